<?php

/*
 * The front controller, as in every Symfony application: httpd sends every URL that is not a
 * file here (FallbackResource /index.php). APP_ENV and APP_DEBUG come from httpd (SetEnv),
 * and so do APP_CACHE_DIR and APP_LOG_DIR (MicroKernelTrait reads them), which point to a
 * directory the PHP-FPM workers (nobody) can write.
 */

declare(strict_types=1);

use App\Kernel;
use Symfony\Component\HttpFoundation\Request;

require dirname(__DIR__) . '/autoload.php';

$kernel = new Kernel($_SERVER['APP_ENV'] ?? 'prod', (bool) ($_SERVER['APP_DEBUG'] ?? false));
$request = Request::createFromGlobals();
$response = $kernel->handle($request);
$response->send();
$kernel->terminate($request, $response);
