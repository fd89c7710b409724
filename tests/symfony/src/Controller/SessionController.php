<?php

/*
 * The application's pages. Every JSON answer names the node that served it ("node", from
 * httpd's SetEnv LAMPFARM_NODE).
 *
 *   GET  /                        the page a person uses (HTML): the node, who is logged in, the
 *                                 session's attributes, forms to log in, set an attribute and
 *                                 log out (the dev farm serves it at /symfony/, `make run`)
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
 *
 * A form of the page posts to /login, /logout or /attr with _target_path (a path of this
 * application, as in Symfony's form_login; the page for any other): the answer is then a 303 back
 * to it, with a flash message saying what happened (and on which node), instead of JSON; /attr
 * then takes name and value from the form, and refuses names that start with "_" (the
 * framework's own: the security token, the CSRF token).
 */

declare(strict_types=1);

namespace App\Controller;

use Symfony\Component\HttpFoundation\JsonResponse;
use Symfony\Component\HttpFoundation\RedirectResponse;
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
    /** What the page's form may name an attribute. */
    private const FORM_ATTRIBUTE = '/^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$/D';

    public function __construct(
        private CsrfTokenManagerInterface $csrf,
        private string $markDir,
    ) {
    }

    public function home(Request $request): Response
    {
        $session = $request->getSession();
        $attributes = $session->all();
        $user = $this->userOf($attributes);
        $token = null;
        if ($user === null) {
            // the login form's token, kept in the session (and so among the attributes shown)
            $token = $this->csrf->getToken(self::CSRF_ID)->getValue();
            $attributes = $session->all();
        }
        $flashes = $session->getFlashBag()->all();     // read once: gone with this page
        $server = $request->server;
        $node = (string) $server->get('LAMPFARM_NODE', 'unknown');
        $via = $server->get('HTTP_X_FORWARDED_FOR');
        $store = $server->get('LAMPFARM_SESSION_STORE');
        $base = $request->getBaseUrl();
        $h = static fn (mixed $v): string =>
            htmlspecialchars((string) $v, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8');

        // nodeA blue and nodeB purple, as on the farm's demo page ("a" and "b" too)
        $colour = ord(substr($node, -1)) % 2 ? '#2a6fb0' : '#8a3fb0';
        $reached = $via !== null
            ? 'reached through the load balancer (X-Forwarded-For: ' . $h($via) . ')'
            : 'reached directly, not through the load balancer';
        $messages = '';
        foreach ($flashes as $type => $list) {
            foreach ($list as $message) {
                $messages .= '<p class="flash ' . ($type === 'error' ? 'bad' : 'ok') . '">'
                    . $h($message) . "</p>\n";
            }
        }
        $target = $h($base . '/');
        if ($user !== null) {
            $who = <<<HTML
                <p>Logged in as <strong id="user">{$h($user)}</strong>.</p>
                <form method="post" action="{$h($base . '/logout')}" id="logout">
                  <input type="hidden" name="_target_path" value="$target">
                  <button id="logout-submit">Log out</button>
                  <span class="muted">Symfony invalidates the session: httpd deletes it from the
                    store and starts an empty one under a new id.</span>
                </form>
                HTML;
        } else {
            $who = <<<HTML
                <p id="anonymous">Nobody is logged in.</p>
                <form method="post" action="{$h($base . '/login')}" id="login">
                  <input type="hidden" name="_csrf_token" value="{$h($token)}">
                  <input type="hidden" name="_target_path" value="$target">
                  <label>User name <input name="_username" id="login-user" required maxlength="40"
                    autocomplete="username"></label>
                  <button id="login-submit">Log in</button>
                  <span class="muted">any name, no password (a demo); the form carries a CSRF
                    token that lives in the session</span>
                </form>
                HTML;
        }
        $rows = '';
        foreach ($attributes as $name => $value) {
            if ($name === self::SECURITY_KEY) {
                $value = 'the security token of ' . ($user ?? '?') . ' (serialized, '
                    . strlen((string) $value) . ' bytes)';
            } elseif (!is_string($value)) {
                $value = json_encode($value, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
            }
            $rows .= "<tr><td><code>{$h($name)}</code></td><td>{$h($value)}</td></tr>\n";
        }
        $table = $rows === ''
            ? '<p class="muted" id="no-attributes">The session holds nothing.</p>'
            : "<table id=\"attributes\">\n<tr><th>attribute</th><th>value</th></tr>\n$rows</table>";
        $where = $store !== null ? ' in ' . $h($store) : '';
        $demo = $server->has('LAMPFARM_NODES')      // set by the dev farm's node config only
            ? '<a href="/" id="demo">The farm\'s demo page</a> · ' : '';

        return new Response(<<<HTML
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <title>Symfony on lampfarm — {$h($node)}</title>
            <style>
              body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 52em;
                     color: #222; }
              h1 { font-size: 1.6em; margin-bottom: .2em; }
              h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
              .node { padding: .1em .5em; border-radius: .3em; color: #fff; background: $colour; }
              .ok { color: #17803d; font-weight: 600; } .bad { color: #b3261e; font-weight: 600; }
              table { border-collapse: collapse; width: 100%; font-size: .92em; }
              th, td { text-align: left; padding: .3em .5em; border-bottom: 1px solid #eee;
                       vertical-align: top; word-break: break-all; }
              code { font: 13px/1.4 ui-monospace, monospace; background: #f5f5f5; }
              .muted { color: #777; }
              form { margin: .8em 0; }
            </style>
            </head>
            <body>
            <h1>Symfony, served by <span class="node" id="node">{$h($node)}</span></h1>
            <p class="muted">A Symfony 5.4 application on the Apache node {$h($node)}, $reached.
              Reload: the load balancer sends each request to the next node, and the session
              comes along.</p>
            $messages
            <h2>Who is logged in</h2>
            $who

            <h2>The session</h2>
            $table
            <form method="post" action="{$h($base . '/attr')}" id="set-attribute">
              <input type="hidden" name="_target_path" value="$target">
              <label>Set the attribute <input name="name" id="attr-name" required maxlength="40"
                pattern="[A-Za-z0-9][A-Za-z0-9_.\-]*"></label>
              <label>to <input name="value" id="attr-value" maxlength="200"></label>
              <button id="attr-submit">Set</button>
            </form>
            <p class="muted">Symfony keeps its session through php/LampfarmSessionHandler.php: httpd
              (mod_session) hands the session to PHP and stores what PHP changed, each attribute as
              an entry of its own, through mod_session_kv{$where}. The cookie holds only a random
              id, so every node serves every user.</p>

            <p>{$demo}<a href="{$h($base . '/me')}" id="me">this session as JSON</a></p>
            </body>
            </html>

            HTML);
    }

    public function loginForm(Request $request): Response
    {
        $token = htmlspecialchars($this->csrf->getToken(self::CSRF_ID)->getValue());
        $action = htmlspecialchars($request->getBaseUrl() . '/login');

        return new Response(<<<HTML
            <!DOCTYPE html>
            <title>Log in</title>
            <form method="post" action="$action">
                <input name="_username" autocomplete="username">
                <input type="hidden" name="_csrf_token" value="$token">
                <button>Log in</button>
            </form>

            HTML);
    }

    public function login(Request $request): Response
    {
        $target = $this->targetPath($request);
        $given = new CsrfToken(self::CSRF_ID, (string) $request->request->get('_csrf_token', ''));
        if (!$this->csrf->isTokenValid($given)) {
            return $target !== null
                ? $this->back($request, $target, 'error', 'Invalid CSRF token, not logged in.')
                : $this->json($request, ['error' => 'Invalid CSRF token.'], 403);
        }
        $username = (string) $request->request->get('_username', '');
        if ($username === '') {
            return $target !== null
                ? $this->back($request, $target, 'error', 'No user name, not logged in.')
                : $this->json($request, ['error' => 'No user name.'], 400);
        }
        $session = $request->getSession();
        // SessionAuthenticationStrategy::MIGRATE, then ContextListener's storage of the token
        $session->migrate(true);
        $user = new InMemoryUser($username, null, ['ROLE_USER']);
        $token = new UsernamePasswordToken($user, self::FIREWALL, $user->getRoles());
        $session->set(self::SECURITY_KEY, serialize($token));
        if ($target !== null) {
            return $this->back($request, $target, 'notice', "Logged in as $username.");
        }

        return $this->json($request, ['user' => $username]);
    }

    public function logout(Request $request): Response
    {
        $session = $request->getSession();
        // the firewall's ContextListener has read the token (and so started the session) before
        // the logout listeners run; invalidate() does nothing to a session not started
        $session->get(self::SECURITY_KEY);
        // SessionLogoutListener (invalidate_session: true)
        $session->invalidate();
        $target = $this->targetPath($request);
        if ($target !== null) {
            // the flash starts a new, anonymous session (a new id)
            return $this->back($request, $target, 'notice', 'Logged out.');
        }

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

    public function attr(Request $request): Response
    {
        $session = $request->getSession();
        $session->all();
        $waited = $this->wait($request);
        $target = $this->targetPath($request);
        if ($target !== null) {
            $form = $request->request;
            $name = (string) $form->get('name', '');
            if (!preg_match(self::FORM_ATTRIBUTE, $name)) {
                return $this->back($request, $target, 'error', 'Not set: a name here is 1 to 40 '
                    . 'letters, digits and "_.-", starting with a letter or digit.');
            }
            $session->set($name, (string) $form->get('value', ''));

            return $this->back($request, $target, 'notice', "Set the attribute $name.");
        }
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
        $user = $this->userOf($attributes);
        unset($attributes[self::SECURITY_KEY]);

        return $this->json($request, ['user' => $user, 'attributes' => (object) $attributes]
            + $extra);
    }

    /** The user of the security token among the session's attributes, or null. */
    private function userOf(array $attributes): ?string
    {
        $serialized = $attributes[self::SECURITY_KEY] ?? null;
        if (!is_string($serialized)) {
            return null;
        }
        // only the classes login() puts there: /attr can set the attribute to anything
        $token = unserialize($serialized, ['allowed_classes' => [
            UsernamePasswordToken::class, InMemoryUser::class,
        ]]);

        return $token instanceof TokenInterface ? $token->getUserIdentifier() : null;
    }

    /**
     * The form's _target_path, or null when there is none (the request is not a form of the
     * page). Only a path of this application, never another site's ("//host/..." is one): for
     * anything else the page, as Symfony's HttpUtils falls back to its default target.
     */
    private function targetPath(Request $request): ?string
    {
        $target = $request->request->get('_target_path');
        if ($target === null) {
            return null;
        }
        $target = (string) $target;
        $home = $request->getBaseUrl() . '/';
        if (!str_starts_with($target, $home) || str_starts_with($target, '//')
            || preg_match('/[\x00-\x20\x7f\\\\]/', $target)) {
            return $home;
        }

        return $target;
    }

    /** A form's answer: a flash message that names this node, and a 303 back to the page. */
    private function back(Request $request, string $target, string $type, string $message): Response
    {
        $node = (string) $request->server->get('LAMPFARM_NODE', 'unknown');
        $request->getSession()->getFlashBag()->add($type, "$node: $message");

        return new RedirectResponse($target, 303);
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
