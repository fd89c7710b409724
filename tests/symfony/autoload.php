<?php

/*
 * What vendor/autoload.php is in a Composer project, for Debian's packaged Symfony 5.4
 * (/usr/share/php, on PHP's include_path): each package's own autoload.php, then a classmap of
 * this application, which includes lib/LampfarmSessionHandler.php as php/README.md says
 * ("autoload": {"classmap": ["lib/LampfarmSessionHandler.php"]}). The test harness copies the
 * handler from php/ into lib/ (tests/integration/harness/symfony.py).
 */

declare(strict_types=1);

require_once 'Symfony/Bundle/FrameworkBundle/autoload.php';
require_once 'Symfony/Component/Security/Csrf/autoload.php';
require_once 'Symfony/Component/Security/Core/autoload.php';

spl_autoload_register(static function (string $class): void {
    static $map = [
        'App\\Kernel' => '/src/Kernel.php',
        'App\\Controller\\SessionController' => '/src/Controller/SessionController.php',
        'LampfarmSessionHandler' => '/lib/LampfarmSessionHandler.php',
    ];
    if (isset($map[$class])) {
        require __DIR__ . $map[$class];
    }
});
