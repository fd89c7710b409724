<?php

declare(strict_types=1);

/**
 * LampfarmSessionHandler: PHP sessions kept by httpd's mod_session (stored in memcached / redis
 * by lampfarm's mod_session_kv), so that every node of the farm sees the same session.
 *
 * PHP never stores anything itself. httpd hands the session to PHP in $_SERVER['HTTP_SESSION']
 * (`SessionEnv On`) and takes the changes back from a response header (`SessionHeader
 * X-Replace-Session`). The cookie and the session id belong to httpd; PHP's session id is a
 * meaningless placeholder that changes on every request.
 *
 * Layout: each top-level $_SESSION key K is one mod_session entry
 *
 *     <prefix><key(K)> = <value(serialize($_SESSION[K]))>
 *
 * except a split key (option split_keys; by default Symfony's attribute bag `_sf2_attributes`
 * and flash bag `_symfony_flashes`) whose value is an array: each member A of it is an entry,
 *
 *     <prefix><key(K)>:<key(A)> = <value(serialize($_SESSION[K][A]))>
 *
 * and an empty array is no entry at all (read() then leaves K out; Symfony puts back []). httpd
 * merges parallel requests per entry, so this makes it merge Symfony sessions per attribute and
 * per flash type instead of per bag. Any other value of a split key is a plain entry.
 *
 *   key(K)   bytes a-z 0-9 _ - stay as they are; every other byte (upper case letters, '.',
 *            ':', anything else) becomes '.' and two lower-case hex digits: "userId" ->
 *            "user.49d", "cart.items" -> "cart.2eitems". mod_session keys are compared
 *            case-insensitively (APR tables), and a removal (`key=`) is matched against the key
 *            *as sent, without decoding it*: so keys are lower case and are sent unescaped, and
 *            every character in them means itself to httpd's decoder (never '%', '+', '&', '=').
 *            key() never makes a ':', so the first ':' after the prefix marks a member. The
 *            prefix (default "php:") is letters, digits and "_ . : -".
 *   value(S) the serialization S itself, or "b64:" + base64(S) when S contains a NUL byte
 *            (objects with private or protected properties): httpd drops a value that decodes
 *            to a NUL. No serialization starts with "b6" (a boolean is "b:0;" / "b:1;"), so the
 *            marker cannot be mistaken for one.
 *
 * Member entries are read for any K, split key or not, so that split_keys can change (and a
 * rolling deploy can mix versions, see php/README.md) without losing data; split_keys only
 * decides how a changed value is written. A key stored both ways (a plain entry written by a
 * handler that does not split, beside member entries) reads as the members with the plain
 * entry's array laid over them (the plain entry wins for a member in both: it is the newer,
 * since a handler that splits K removes it whenever it writes K), or as the plain value alone
 * when that is not an array. A key whose value did not change is never written, whatever its
 * form (a parallel request may be changing it): so a plain entry of a split key (the layout
 * before split_keys) is converted only by a write that changes K, which sends the plain entry
 * empty and every member.
 *
 * On the wire both directions use mod_session's encoding, which in httpd 2.4 is
 * application/x-www-form-urlencoded (ap_escape_urlencoded / ap_unescape_urlencoded): pairs
 * joined by '&', key and value separated by the first '=', percent-escapes, and '+' for a
 * space. Keys are sent as they are (they never need escaping), values with rawurlencode().
 *
 * write() sends only what changed against the session httpd handed in: `entry=value` for a new
 * or changed entry, `entry=` (empty: removes it) for an entry that disappeared, nothing for the
 * rest, and no header at all when nothing changed. Keys without the prefix, and `expiry`,
 * belong to others and are never touched. A header longer than 8000 bytes is sent as
 * X-Replace-Session-1 .. -N (8000-byte pieces, joined by mod_session_kv), because PHP-FPM's
 * response header lines are limited to 8 KB. A session bigger than `max_size` (httpd's encoding
 * of the whole session) is refused: write() returns false with an E_USER_WARNING, and nothing is
 * sent.
 *
 * session_regenerate_id() -> `X-Session-Regenerate: 1` (httpd makes the new id, moves the
 * session to it and drops the old one). session_destroy() -> every entry of ours sent empty.
 *
 * Requires session.serialize_handler = php_serialize and PHP not sending its own cookie
 * (session.use_cookies = 0): see register() and configureIni(), and php/README.md.
 */
class LampfarmSessionHandler implements \SessionHandlerInterface, \SessionIdInterface, \SessionUpdateTimestampHandlerInterface
{
    /** Longest header value sent in one piece; longer ones go out as numbered pieces. */
    public const CHUNK_SIZE = 8000;

    /** Marker of a base64-encoded serialization (one that contains a NUL byte). */
    public const BASE64_MARKER = 'b64:';

    public const DEFAULT_PREFIX = 'php:';
    public const DEFAULT_MAX_SIZE = 65536;
    public const DEFAULT_HEADER = 'X-Replace-Session';
    public const DEFAULT_REGENERATE_HEADER = 'X-Session-Regenerate';

    /** Symfony's attribute bag and flash bag: stored one entry per attribute / flash type. */
    public const DEFAULT_SPLIT_KEYS = ['_sf2_attributes', '_symfony_flashes'];

    /** Between a key and a member in an entry's name; key() never makes one. */
    private const MEMBER_SEPARATOR = ':';

    /** mod_session's own key for SessionMaxAge: never ours, whatever the prefix. */
    private const EXPIRY_KEY = 'expiry';

    private string $prefix;
    private int $maxSize;
    private string $headerName;
    private string $regenerateHeader;
    /** @var array<string|int, true> top-level keys whose array value is stored one entry per member */
    private array $splitKeys;
    /** @var callable(string): void */
    private $header;
    /** @var callable(string): void */
    private $headerRemove;
    /** @var callable */
    private $headersSent;

    /* Per-request state; reset() clears it. */
    private bool $loaded = false;
    /** @var array<string, string> every pair httpd handed in (decoded), ours included */
    private array $pairs = [];
    /** @var array<string, string> our keys as handed in: PHP key => serialization (what read() gave) */
    private array $original = [];
    /** @var array<string, array<string, string>> their entries: PHP key => (mod_session key => serialization) */
    private array $originalEntries = [];
    /** @var array<string, mixed> our keys as handed in, unserialized once: PHP key => value */
    private array $originalValues = [];
    /** @var array<string, true> our entries as handed in that hold a broken value: mod_session key => true */
    private array $broken = [];
    /** @var array<string, string> our keys as of the last write/destroy: PHP key => serialization */
    private array $current = [];
    /** The string read() last returned (php_serialize of $current), for the no-change shortcut. */
    private ?string $currentData = null;
    private ?string $lastId = null;
    private bool $regenerate = false;
    /** @var array<string, string> the X-Replace-Session header(s) this handler has sent: name => value */
    private array $emitted = [];

    /**
     * @param array{
     *     prefix?: string,
     *     max_size?: int,
     *     header_name?: string,
     *     regenerate_header?: string,
     *     split_keys?: list<string|int>,
     *     configure_ini?: bool,
     *     header?: callable(string): void,
     *     header_remove?: callable(string): void,
     *     headers_sent?: callable,
     * } $options
     *   prefix            start of every mod_session key this handler owns (default "php:");
     *                     letters, digits and "_ . : -" only
     *   max_size          largest session accepted, in bytes of httpd's encoding of the whole
     *                     session (default 65536, mod_session_kv's SessionKVMaxSize default)
     *   header_name       httpd's SessionHeader (default X-Replace-Session)
     *   regenerate_header default X-Session-Regenerate
     *   split_keys        top-level keys whose array value is stored one entry per member, so
     *                     that parallel requests merge per member (default DEFAULT_SPLIT_KEYS,
     *                     Symfony's bags; [] writes every key whole, as before split_keys)
     *   configure_ini     call configureIni() now (for Symfony, where register() is not used)
     *   header, header_remove, headers_sent
     *                     stand-ins for PHP's header(), header_remove(), headers_sent(): tests
     */
    public function __construct(array $options = [])
    {
        $unknown = array_diff(array_keys($options), [
            'prefix', 'max_size', 'header_name', 'regenerate_header', 'split_keys', 'configure_ini',
            'header', 'header_remove', 'headers_sent',
        ]);
        if ($unknown) {
            throw new \InvalidArgumentException('LampfarmSessionHandler: unknown option(s): ' . implode(', ', $unknown));
        }

        $this->prefix = (string) ($options['prefix'] ?? self::DEFAULT_PREFIX);
        if (!preg_match('/^[A-Za-z0-9_.:-]{1,64}$/', $this->prefix)) {
            throw new \InvalidArgumentException(sprintf(
                'LampfarmSessionHandler: prefix "%s" must be 1 to 64 letters, digits, "_", ".", ":" or "-"', $this->prefix));
        }
        $this->maxSize = (int) ($options['max_size'] ?? self::DEFAULT_MAX_SIZE);
        if ($this->maxSize < 1) {
            throw new \InvalidArgumentException('LampfarmSessionHandler: max_size must be positive');
        }
        $this->headerName = (string) ($options['header_name'] ?? self::DEFAULT_HEADER);
        $this->regenerateHeader = (string) ($options['regenerate_header'] ?? self::DEFAULT_REGENERATE_HEADER);
        foreach ([$this->headerName, $this->regenerateHeader] as $name) {
            if (!preg_match('/^[A-Za-z0-9-]+$/', $name)) {
                throw new \InvalidArgumentException(sprintf('LampfarmSessionHandler: bad header name "%s"', $name));
            }
        }
        $splitKeys = $options['split_keys'] ?? self::DEFAULT_SPLIT_KEYS;
        if (!is_array($splitKeys)
            || array_filter($splitKeys, static fn (mixed $k): bool => !is_string($k) && !is_int($k))) {
            throw new \InvalidArgumentException('LampfarmSessionHandler: split_keys must be a list of $_SESSION keys');
        }
        $this->splitKeys = array_fill_keys($splitKeys, true);
        $this->header = $options['header'] ?? header(...);
        $this->headerRemove = $options['header_remove'] ?? header_remove(...);
        $this->headersSent = $options['headers_sent'] ?? headers_sent(...);

        if (!empty($options['configure_ini'])) {
            self::configureIni();
        }
    }

    /**
     * The ini settings this handler needs: httpd owns the cookie and the id, and the session
     * data must be one serialized array (php_serialize) so that it splits into top-level keys.
     *
     * @return array<string, string>
     */
    public static function iniSettings(): array
    {
        return [
            'session.serialize_handler' => 'php_serialize',
            'session.use_cookies' => '0',
            'session.use_only_cookies' => '1',
            'session.use_trans_sid' => '0',
            'session.use_strict_mode' => '0',
            'session.lazy_write' => '1',
            'session.gc_probability' => '0',
        ];
    }

    /**
     * Applies iniSettings(). Throws when one that differs cannot be set (a session is already
     * active, headers were sent, or the value is locked by php_admin_value).
     */
    public static function configureIni(): void
    {
        $todo = array_filter(self::iniSettings(), static fn (string $value, string $name): bool => ini_get($name) !== $value,
            ARRAY_FILTER_USE_BOTH);
        if (!$todo) {
            return;
        }
        if (session_status() === PHP_SESSION_ACTIVE) {
            throw new \LogicException('LampfarmSessionHandler: a session is already active (session.auto_start must be 0; '
                . 'set the handler up before session_start())');
        }
        $failed = [];
        foreach ($todo as $name => $value) {
            if (ini_set($name, $value) === false) {
                $failed[] = "$name=$value";
            }
        }
        if ($failed) {
            throw new \RuntimeException('LampfarmSessionHandler: cannot set ' . implode(', ', $failed)
                . ' (headers already sent, or the value is locked by php_admin_value)');
        }
    }

    /**
     * Plain PHP: set the ini settings and install a handler (before session_start()).
     *
     * @param array<string, mixed> $options see __construct()
     */
    public static function register(array $options = []): static
    {
        self::configureIni();
        unset($options['configure_ini']);
        $handler = new static($options);
        if (!session_set_save_handler($handler, true)) {
            throw new \RuntimeException('LampfarmSessionHandler: session_set_save_handler() failed');
        }

        return $handler;
    }

    /** Forget the request's state: for long-running workers (Symfony's kernel.reset). */
    public function reset(): void
    {
        $this->loaded = false;
        $this->pairs = $this->original = $this->originalEntries = $this->originalValues = $this->broken = $this->current = $this->emitted = [];
        $this->currentData = $this->lastId = null;
        $this->regenerate = false;
    }

    /* ---------------------------------------------------------------- SessionHandlerInterface */

    public function open(string $path, string $name): bool
    {
        if (ini_get('session.serialize_handler') !== 'php_serialize') {
            trigger_error(sprintf('LampfarmSessionHandler: session.serialize_handler is "%s", it must be "php_serialize" '
                . '(LampfarmSessionHandler::register() or configureIni() sets it)', ini_get('session.serialize_handler')), E_USER_WARNING);

            return false;
        }

        return true;
    }

    public function close(): bool
    {
        return true;
    }

    public function read(string $id): string|false
    {
        $this->load();
        if ($this->lastId !== null && $id !== $this->lastId) {
            // A new id after a write() or destroy() of this request: session_regenerate_id(),
            // or session_destroy() followed by session_start(). httpd makes the new id.
            $this->requestRegeneration();
        }
        $this->lastId = $id;

        return $this->currentData = $this->encodeSessionData($this->current);
    }

    public function write(string $id, string $data): bool
    {
        return $this->save($id, $data);
    }

    public function destroy(string $id): bool
    {
        $this->load();
        $this->lastId ??= $id;
        if (!$this->send([], [], false)) {
            return false;
        }
        $this->current = [];
        $this->currentData = $this->encodeSessionData([]);

        return true;
    }

    public function gc(int $max_lifetime): int|false
    {
        return 0; // mod_session_kv lets the store expire sessions
    }

    /* ------------------------------------------- SessionIdInterface, SessionUpdateTimestamp... */

    /** A placeholder: the real id is httpd's. Unique, so that an id change is visible to read(). */
    public function create_sid(): string
    {
        return 'lampfarm-' . bin2hex(random_bytes(12));
    }

    /** Only the id of this request's session "exists" (strict mode then keeps it, and never loops). */
    public function validateId(string $id): bool
    {
        return $this->lastId !== null && $id === $this->lastId;
    }

    /** Called by lazy_write when the data did not change: nothing to tell httpd. */
    public function updateTimestamp(string $id, string $data): bool
    {
        return $this->save($id, $data);
    }

    /* -------------------------------------------------------------------------- the layout */

    /** The mod_session key of PHP key $key, or of member $member of its (split) array. */
    public function storageKey(string|int $key, string|int|null $member = null): string
    {
        return $this->prefix . self::escapeKey($key)
            . ($member === null ? '' : self::MEMBER_SEPARATOR . self::escapeKey($member));
    }

    /**
     * What mod_session key $key holds: [PHP key, null] for a whole top-level key, [PHP key,
     * member] for a member of a split key, null when the key is not one of ours.
     *
     * @return array{0: string, 1: string|null}|null
     */
    public function parseStorageKey(string $key): ?array
    {
        if ($key === self::EXPIRY_KEY || strncasecmp($key, $this->prefix, strlen($this->prefix)) !== 0) {
            return null;
        }
        $rest = strtolower(substr($key, strlen($this->prefix)));
        if (!preg_match('/^((?:[a-z0-9_-]|\.[0-9a-f]{2})*)(?::((?:[a-z0-9_-]|\.[0-9a-f]{2})*))?$/', $rest, $m,
            PREG_UNMATCHED_AS_NULL)) {
            return null;
        }

        return [self::unescapeKey($m[1]), $m[2] === null ? null : self::unescapeKey($m[2])];
    }

    /** The PHP key of mod_session key $key when it holds a whole top-level key, else null. */
    public function phpKey(string $key): ?string
    {
        $entry = $this->parseStorageKey($key);

        return $entry !== null && $entry[1] === null ? $entry[0] : null;
    }

    /** key() of the class comment. */
    private static function escapeKey(string|int $key): string
    {
        return preg_replace_callback('/[^a-z0-9_-]/',
            static fn (array $m): string => '.' . bin2hex($m[0]), (string) $key);
    }

    private static function unescapeKey(string $escaped): string
    {
        return preg_replace_callback('/\.([0-9a-f]{2})/', static fn (array $m): string => chr(hexdec($m[1])), $escaped);
    }

    /** The stored form of serialization $serialized (see the class comment). */
    public static function storedValue(string $serialized): string
    {
        return str_contains($serialized, "\0") ? self::BASE64_MARKER . base64_encode($serialized) : $serialized;
    }

    /** The serialization held by stored value $value, or null when it is not valid. */
    public static function serializationOf(string $value): ?string
    {
        if (str_starts_with($value, self::BASE64_MARKER)) {
            $decoded = base64_decode(substr($value, strlen(self::BASE64_MARKER)), true);

            return $decoded === false ? null : $decoded;
        }

        return $value;
    }

    /**
     * Pairs of mod_session's identity encoding (HTTP_SESSION): split by hand, because
     * parse_str() would rename keys with dots, spaces and brackets.
     *
     * @return array<string, string>
     */
    public static function parsePairs(string $encoded): array
    {
        $pairs = [];
        foreach (explode('&', $encoded) as $pair) {
            $eq = strpos($pair, '=');
            if ($pair === '' || $eq === false || $eq === 0) {
                continue; // mod_session never hands these in
            }
            $value = urldecode(substr($pair, $eq + 1));
            if ($value !== '') {
                $pairs[urldecode(substr($pair, 0, $eq))] = $value;
            }
        }

        return $pairs;
    }

    /* ---------------------------------------------------------------------------- internals */

    /** write() and updateTimestamp(): tell httpd what changed, if anything did. */
    private function save(string $id, string $data): bool
    {
        $this->load();
        $this->lastId ??= $id;
        if ($this->currentData !== null && $data === $this->currentData) {
            return true; // nothing changed since read()
        }
        $decoded = $this->decodeSessionData($data);
        if ($decoded === null) {
            return false;
        }
        [$new, $entries] = $decoded;
        if (!$this->send($new, $entries, true)) {
            return false;
        }
        $this->current = $new;
        $this->currentData = $data;

        return true;
    }

    /**
     * The session httpd handed in: HTTP_SESSION, or, for a long one, HTTP_SESSION_1 ..
     * HTTP_SESSION_<n> joined, with n in HTTP_SESSION_PARTS (mod_session_kv splits it at
     * SessionKVEnvPartSize bytes, because PHP-FPM never sees a FastCGI variable over 16 KB).
     * A missing piece means a session that cannot be read whole: it is read as empty, with a
     * warning, rather than half of it.
     *
     * @param array<string, mixed> $server $_SERVER
     */
    public static function sessionFromServer(array $server): string
    {
        if (!isset($server['HTTP_SESSION_PARTS'])) {
            return (string) ($server['HTTP_SESSION'] ?? '');
        }
        $parts = (string) $server['HTTP_SESSION_PARTS'];
        $joined = '';
        if (ctype_digit($parts) && (int) $parts >= 1) {
            for ($i = 1; $i <= (int) $parts; ++$i) {
                if (!isset($server['HTTP_SESSION_' . $i])) {
                    break;
                }
                $joined .= (string) $server['HTTP_SESSION_' . $i];
            }
            if ($i > (int) $parts) {
                return $joined;
            }
        }
        trigger_error(sprintf('LampfarmSessionHandler: HTTP_SESSION_PARTS=%s but not every piece '
            . 'HTTP_SESSION_1..%1$s arrived; the session is read as empty', $parts), E_USER_WARNING);
        return '';
    }

    /** Parse HTTP_SESSION once per request. */
    private function load(): void
    {
        if ($this->loaded) {
            return;
        }
        $this->loaded = true;
        $this->pairs = self::parsePairs(self::sessionFromServer($_SERVER));
        $plain = [];   // PHP key => [serialization, value]
        $members = []; // PHP key => (member => value)
        foreach ($this->pairs as $storageKey => $value) {
            $entry = $this->parseStorageKey((string) $storageKey);
            if ($entry === null) {
                continue;
            }
            [$key, $member] = $entry;
            $name = $this->storageKey($key, $member); // as we send it: removals match it exactly
            $serialized = self::serializationOf($value);
            $ok = false;
            $unserialized = $serialized === null ? null : $this->unserializeValue($serialized, $ok);
            if (!$ok) {
                trigger_error(sprintf('LampfarmSessionHandler: session key "%s" holds a value that does not unserialize; '
                    . 'it is dropped', $storageKey), E_USER_WARNING);
                $this->broken[$name] = true;
                continue;
            }
            $this->originalEntries[$key][$name] = $serialized;
            if ($member === null) {
                $plain[$key] = [$serialized, $unserialized];
            } else {
                $members[$key][$member] = $unserialized;
            }
        }
        foreach (array_keys($this->originalEntries) as $key) {
            if (isset($plain[$key]) && (!isset($members[$key]) || !is_array($plain[$key][1]))) {
                [$this->original[$key], $this->originalValues[$key]] = $plain[$key];
            } else {
                // the members, under a plain array if one is stored too (class comment)
                $this->originalValues[$key] = array_replace($members[$key] ?? [], $plain[$key][1] ?? []);
                $this->original[$key] = serialize($this->originalValues[$key]);
            }
        }
        $this->current = $this->original;
    }

    /** unserialize() without running any code of the application (no autoload, no __wakeup). */
    private function unserializeValue(string $serialized, ?bool &$ok): mixed
    {
        // Objects come back as __PHP_Incomplete_Class, which serializes back to the same bytes;
        // only the old Serializable format (C:) does not survive that, so it gets real classes.
        $options = preg_match('/(?:^|[;{}])C:\d+:"/', $serialized) ? [] : ['allowed_classes' => false];
        set_error_handler(static fn (): bool => true); // a broken value is reported by the caller
        try {
            $value = unserialize($serialized, $options);
        } finally {
            restore_error_handler();
        }
        $ok = $value !== false || $serialized === 'b:0;';

        return $ok ? $value : null;
    }

    /**
     * php_serialize data of our keys. Each value is unserialized and the whole array serialized
     * again (rather than the stored strings glued together) so that back-references (r:/R:)
     * inside a value are numbered for the array they end up in.
     *
     * @param array<string, string> $keys PHP key => serialization
     */
    private function encodeSessionData(array $keys): string
    {
        $session = [];
        foreach ($keys as $key => $serialized) {
            // a key as handed in was unserialized by load() already
            $session[$key] = ($this->original[$key] ?? null) === $serialized
                ? $this->originalValues[$key] : $this->unserializeValue($serialized, $ok);
        }

        return serialize($session);
    }

    /**
     * @return array{0: array<string, string>, 1: array<string, array<string, string>>}|null
     *   [PHP key => serialization, PHP key => its entries (mod_session key => serialization)];
     *   null (with a warning) if $data is not php_serialize
     */
    private function decodeSessionData(string $data): ?array
    {
        $session = $data === '' ? [] : $this->unserializeValue($data, $ok);
        if (!is_array($session)) {
            trigger_error('LampfarmSessionHandler: session data is not in the php_serialize format '
                . '(session.serialize_handler must be "php_serialize"); the session is not saved', E_USER_WARNING);

            return null;
        }
        $keys = $entries = [];
        foreach ($session as $key => $value) {
            $keys[$key] = serialize($value);
            if (is_array($value) && isset($this->splitKeys[$key])) {
                $entries[$key] = [];
                foreach ($value as $member => $memberValue) {
                    $entries[$key][$this->storageKey($key, $member)] = serialize($memberValue);
                }
            } else {
                $entries[$key] = [$this->storageKey($key) => $keys[$key]];
            }
        }

        return [$keys, $entries];
    }

    /**
     * Send the header(s) that turn the session httpd handed in into $new (our keys), replacing
     * whatever this handler sent before in this request. Only the entries of keys whose value
     * changed are written: a key that did not change keeps its entries as they are, in whatever
     * form, so that a request never writes back a stale copy of what it did not change.
     *
     * @param array<string, string> $new PHP key => serialization
     * @param array<string, array<string, string>> $newEntries PHP key => (mod_session key => serialization)
     */
    private function send(array $new, array $newEntries, bool $checkSize): bool
    {
        $sets = $removals = [];
        $after = []; // our entries once httpd has applied the change: mod_session key => serialization
        foreach ($new as $key => $serialized) {
            $before = $this->originalEntries[$key] ?? [];
            if (isset($this->original[$key]) && $this->original[$key] === $serialized) {
                $after += $before;
                continue;
            }
            foreach ($newEntries[$key] as $name => $entry) {
                if (($before[$name] ?? null) !== $entry) {
                    $sets[$name] = $entry;
                }
            }
            $removals += array_diff_key($before, $newEntries[$key]);
            $after += $newEntries[$key];
        }
        foreach ($this->originalEntries as $key => $before) {
            if (!array_key_exists($key, $new)) {
                $removals += $before;
            }
        }
        $removals += array_diff_key($this->broken, $sets);

        $parts = [];
        foreach ($sets as $name => $entry) {
            $parts[] = $name . '=' . rawurlencode(self::storedValue($entry));
        }
        foreach (array_keys($removals) as $name) {
            $parts[] = $name . '=';
        }

        $value = implode('&', $parts);
        $headers = [];
        if (strlen($value) > self::CHUNK_SIZE) {
            foreach (str_split($value, self::CHUNK_SIZE) as $i => $chunk) {
                $headers[$this->headerName . '-' . ($i + 1)] = $chunk;
            }
        } elseif ($value !== '') {
            $headers[$this->headerName] = $value;
        }
        if ($headers === $this->emitted) {
            return true; // already said
        }

        if ($checkSize && ($size = $this->encodedSize($after)) > $this->maxSize) {
            trigger_error(sprintf('LampfarmSessionHandler: the session would be %d bytes encoded, over the limit of %d bytes '
                . '(max_size; mod_session_kv: SessionKVMaxSize); it is not saved and stays as it was', $size, $this->maxSize), E_USER_WARNING);

            return false;
        }
        if ($this->headersAlreadySent($where)) {
            trigger_error(sprintf('LampfarmSessionHandler: cannot save the session, headers were already sent (output started at %s); '
                . 'call session_write_close() before any output, or buffer the output', $where), E_USER_WARNING);

            return false;
        }

        foreach (array_keys($this->emitted) as $name) {
            if (!isset($headers[$name])) {
                ($this->headerRemove)($name);
            }
        }
        foreach ($headers as $name => $chunk) {
            ($this->header)($name . ': ' . $chunk);
        }
        $this->emitted = $headers;

        return true;
    }

    private function requestRegeneration(): void
    {
        if ($this->regenerate) {
            return;
        }
        if ($this->headersAlreadySent($where)) {
            trigger_error(sprintf('LampfarmSessionHandler: cannot ask for a new session id, headers were already sent '
                . '(output started at %s)', $where), E_USER_WARNING);

            return;
        }
        ($this->header)($this->regenerateHeader . ': 1');
        $this->regenerate = true;
    }

    private function headersAlreadySent(?string &$where): bool
    {
        $file = $line = null;
        if (($this->headersSent)($file, $line)) {
            $where = $file ? "$file:$line" : 'unknown';

            return true;
        }

        return false;
    }

    /**
     * Size of the whole session once httpd has applied a change, as httpd encodes it: $after
     * (every entry of ours, members one by one) and the keys of others and `expiry` as handed
     * in. PHP's urlencode() matches ap_escape_urlencoded() byte for byte except for '*', which
     * httpd leaves alone: the estimate is never below httpd's.
     *
     * @param array<string, string> $after mod_session key => serialization
     */
    private function encodedSize(array $after): int
    {
        $size = 0;
        $count = 0;
        foreach ($this->pairs as $key => $value) {
            $key = (string) $key;
            if ($this->parseStorageKey($key) === null) {
                $size += strlen(urlencode($key)) + 1 + strlen(urlencode($value));
                $count++;
            }
        }
        foreach ($after as $name => $serialized) {
            $size += strlen(urlencode((string) $name)) + 1 + strlen(urlencode(self::storedValue($serialized)));
            $count++;
        }

        return $size + max(0, $count - 1);
    }
}
