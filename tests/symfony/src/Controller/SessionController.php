<?php

/*
 * The application's pages. Every JSON answer names the node that served it ("node", from
 * httpd's SetEnv LAMPFARM_NODE).
 *
 *   GET  /login                   a login form with a CSRF token (stored in the session)
 *   POST /login                   _username, _csrf_token: checks the token (403 if wrong), then
 *                                 what Symfony's security does at login: a new session id
 *                                 (migrate(true), session fixation strategy "migrate") and the
 *                                 token serialized into the attribute _security_main
 *   POST /logout                  $session->invalidate(), as Symfony's logout does
 *   GET  /me                      the user and the other attributes; set=name:value sets one
 *   POST /attr?name=..&value=..   sets one attribute
 *   GET  /flash?type=..&msg=..    adds a flash message; GET /flashes reads (and so clears) them
 *   GET  /download/{name}         hands the download to mod_s3 (X-S3-Key), empty body
 *
 * /me and /attr can be slow (a request in flight while others run): with sleep=MS they wait
 * after the session was read and before they change it. mark=M writes <APP_MARK_DIR>/M.in when
 * the wait begins (so a test knows the request is in it); until=U ends the wait as soon as
 * <APP_MARK_DIR>/U.go exists. "waited" in the answer says how the wait ended: "released" or
 * "timeout".
 */

declare(strict_types=1);

namespace App\Controller;

use Symfony\Component\HttpFoundation\JsonResponse;
use Symfony\Component\HttpFoundation\Request;
use Symfony\Component\HttpFoundation\Response;
use Symfony\Component\HttpFoundation\Session\SessionInterface;
use Symfony\Component\Security\Core\Authentication\Token\TokenInterface;
use Symfony\Component\Security\Core\Authentication\Token\UsernamePasswordToken;
use Symfony\Component\Security\Core\User\InMemoryUser;
use Symfony\Component\Security\Csrf\CsrfToken;
use Symfony\Component\Security\Csrf\CsrfTokenManagerInterface;

final class SessionController
{
    private const FIREWALL = 'main';
    private const SECURITY_KEY = '_security_' . self::FIREWALL;
    private const CSRF_ID = 'authenticate';

    public function __construct(
        private CsrfTokenManagerInterface $csrf,
        private string $markDir,
    ) {
    }

    public function loginForm(Request $request): Response
    {
        $token = htmlspecialchars($this->csrf->getToken(self::CSRF_ID)->getValue());

        return new Response(<<<HTML
            <!DOCTYPE html>
            <title>Log in</title>
            <form method="post" action="/login">
                <input name="_username" autocomplete="username">
                <input type="hidden" name="_csrf_token" value="$token">
                <button>Log in</button>
            </form>

            HTML);
    }

    public function login(Request $request): JsonResponse
    {
        $given = new CsrfToken(self::CSRF_ID, (string) $request->request->get('_csrf_token', ''));
        if (!$this->csrf->isTokenValid($given)) {
            return $this->json($request, ['error' => 'Invalid CSRF token.'], 403);
        }
        $username = (string) $request->request->get('_username', '');
        if ($username === '') {
            return $this->json($request, ['error' => 'No user name.'], 400);
        }
        $session = $request->getSession();
        // SessionAuthenticationStrategy::MIGRATE, then ContextListener's storage of the token
        $session->migrate(true);
        $user = new InMemoryUser($username, null, ['ROLE_USER']);
        $token = new UsernamePasswordToken($user, self::FIREWALL, $user->getRoles());
        $session->set(self::SECURITY_KEY, serialize($token));

        return $this->json($request, ['user' => $username]);
    }

    public function logout(Request $request): JsonResponse
    {
        $session = $request->getSession();
        // the firewall's ContextListener has read the token (and so started the session) before
        // the logout listeners run; invalidate() does nothing to a session not started
        $session->get(self::SECURITY_KEY);
        // SessionLogoutListener (invalidate_session: true)
        $session->invalidate();

        return $this->json($request, ['user' => null]);
    }

    public function me(Request $request): JsonResponse
    {
        $session = $request->getSession();
        $session->all(); // reads the session (starts it)
        $waited = $this->wait($request);
        $set = (string) $request->query->get('set', '');
        if ($set !== '') {
            [$name, $value] = explode(':', $set, 2) + [1 => ''];
            $session->set($name, $value);
        }

        return $this->state($request, $session, ['waited' => $waited]);
    }

    public function attr(Request $request): JsonResponse
    {
        $session = $request->getSession();
        $session->all();
        $waited = $this->wait($request);
        $query = $request->query;
        $session->set((string) $query->get('name'), (string) $query->get('value'));

        return $this->state($request, $session, ['waited' => $waited]);
    }

    public function flash(Request $request): JsonResponse
    {
        $query = $request->query;
        $flashes = $request->getSession()->getFlashBag();
        $flashes->add((string) $query->get('type'), (string) $query->get('msg'));

        return $this->json($request, []);
    }

    public function flashes(Request $request): JsonResponse
    {
        $flashes = $request->getSession()->getFlashBag()->all();

        return $this->json($request, ['flashes' => (object) $flashes]);
    }

    public function download(Request $request, string $name): Response
    {
        return new Response('', 200, ['X-S3-Key' => $name]);
    }

    /** The user (from the security token) and every other attribute. */
    private function state(Request $request, SessionInterface $session, array $extra): JsonResponse
    {
        $attributes = $session->all();
        $user = null;
        if (isset($attributes[self::SECURITY_KEY])) {
            $token = unserialize($attributes[self::SECURITY_KEY]);
            $user = $token instanceof TokenInterface ? $token->getUserIdentifier() : null;
            unset($attributes[self::SECURITY_KEY]);
        }

        return $this->json($request, ['user' => $user, 'attributes' => (object) $attributes]
            + $extra);
    }

    /** sleep / mark / until: see the file comment. */
    private function wait(Request $request): ?string
    {
        $ms = $request->query->getInt('sleep');
        if ($ms <= 0) {
            return null;
        }
        $mark = $this->markName($request->query->get('mark'));
        $until = $this->markName($request->query->get('until'));
        if ($mark !== null) {
            file_put_contents("$this->markDir/$mark.in", (string) getmypid());
        }
        $end = microtime(true) + $ms / 1000;
        while (microtime(true) < $end) {
            clearstatcache();
            if ($until !== null && is_file("$this->markDir/$until.go")) {
                return 'released';
            }
            usleep(5000);
        }

        return 'timeout';
    }

    private function markName(mixed $name): ?string
    {
        return is_string($name) && preg_match('/^[A-Za-z0-9_-]{1,64}$/', $name) ? $name : null;
    }

    private function json(Request $request, array $data, int $status = 200): JsonResponse
    {
        $node = $request->server->get('LAMPFARM_NODE');

        return new JsonResponse(['node' => $node] + $data, $status);
    }
}
