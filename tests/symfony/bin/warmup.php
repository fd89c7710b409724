<?php

/*
 * Builds the container and warms every cache once (what `bin/console cache:warmup` does), so
 * that no request builds it. Run as the PHP-FPM user, with APP_CACHE_DIR and APP_LOG_DIR set
 * as httpd sets them. Prints the cache directory.
 */

declare(strict_types=1);

use App\Kernel;

require dirname(__DIR__) . '/autoload.php';

$kernel = new Kernel($_SERVER['APP_ENV'] ?? 'prod', false);
$kernel->boot();
$warmer = $kernel->getContainer()->get('cache_warmer');
$warmer->enableOptionalWarmers();
$warmer->warmUp($kernel->getCacheDir());
echo $kernel->getCacheDir(), "\n";
