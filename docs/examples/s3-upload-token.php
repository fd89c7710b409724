<?php
/*
 * s3-upload-token.php — mint an upload token for mod_s3 in the application.
 *
 * A token authorizes one upload (a "key") or uploads below a "prefix", for a limited time; the
 * application mints it with the secret it shares with mod_s3 (S3UploadTokenSecret, read from a
 * file or the environment) and hands it to the browser, which sends it with the PUT or the
 * multipart/form-data POST. Format (modules/s3/s3_token.h):
 *
 *     base64url(payload) "." base64url(HMAC-SHA256(secret, base64url(payload)))
 *
 * base64url without '=' padding; the payload is a flat JSON object:
 *     "key"    string   the exact S3 key (configured key prefix included)  } exactly one
 *     "prefix" string   a prefix the key must start with (end it with "/") } of the two
 *     "max"    integer  the largest size allowed, in bytes (optional)
 *     "types"  string   allowed content types, "image/png,image/*" (optional)
 *     "exp"    integer  expiry, Unix seconds (required); keep it short
 * The token is at most 4096 bytes.
 *
 * Usage:
 *
 *     // as mod_s3 reads it (file:PATH): trailing line breaks dropped, nothing else
 *     $secret = rtrim(file_get_contents('/etc/lampfarm/s3-upload.secret'), "\r\n");
 *     $token = lampfarm_upload_token($secret, [
 *         'key'   => 'uploads/avatars/' . $userId . '.png',
 *         'max'   => 5 * 1024 * 1024,
 *         'types' => 'image/png,image/jpeg',
 *         'exp'   => time() + 600,
 *     ]);
 *     // then, with <Location /files/> and S3KeyPrefix uploads/ for the location:
 *     //   PUT /files/avatars/42.png with the header "X-Upload-Token: $token"
 *     // (or ?upload_token=... in the URL)
 *
 * The C side (s3_token_mint) makes the same bytes for the same claims in the order above.
 */

function lampfarm_upload_token(string $secret, array $claims): string
{
    if (isset($claims['key']) === isset($claims['prefix'])) {
        throw new InvalidArgumentException('an upload token needs exactly one of key and prefix');
    }
    if (!isset($claims['exp']) || !is_int($claims['exp'])) {
        throw new InvalidArgumentException('an upload token needs "exp" in Unix seconds');
    }
    $b64url = static fn (string $bytes): string
        => rtrim(strtr(base64_encode($bytes), '+/', '-_'), '=');
    $payload = $b64url(json_encode($claims, JSON_UNESCAPED_SLASHES | JSON_THROW_ON_ERROR));
    return $payload . '.' . $b64url(hash_hmac('sha256', $payload, $secret, true));
}
