<?php
// ping.php — the target of each node's "php-fpm" health check: answers 200 "ok" when this node
// can reach php-fpm through mod_proxy_fcgi and PHP runs.
header('Content-Type: text/plain');
header('Cache-Control: no-store');
echo "ok\n";
