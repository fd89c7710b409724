<?php

/*
 * A small Symfony 5.4 application for lampfarm's integration tests
 * (tests/integration/test_068_session_symfony.py) and the dev farm (`make run`, at /symfony/):
 * a login form with a CSRF token, login and logout as Symfony's security component does them,
 * session attributes and flash messages, a download handed to mod_s3, and an HTML page that
 * shows all this to a person. Its session is kept by httpd (mod_session + mod_session_kv)
 * through LampfarmSessionHandler, configured as php/README.md tells a Symfony user to; the
 * configuration is in PHP here because Debian ships no symfony/yaml with this Symfony.
 */

declare(strict_types=1);

namespace App;

use App\Controller\SessionController;
use Symfony\Bundle\FrameworkBundle\FrameworkBundle;
use Symfony\Bundle\FrameworkBundle\Kernel\MicroKernelTrait;
use Symfony\Component\DependencyInjection\Loader\Configurator\ContainerConfigurator;
use Symfony\Component\HttpKernel\Kernel as BaseKernel;
use Symfony\Component\Routing\Loader\Configurator\RoutingConfigurator;

final class Kernel extends BaseKernel
{
    use MicroKernelTrait;

    public function registerBundles(): iterable
    {
        return [new FrameworkBundle()];
    }

    public function getProjectDir(): string
    {
        return \dirname(__DIR__);
    }

    private function configureContainer(ContainerConfigurator $container): void
    {
        $container->extension('framework', [
            'secret' => 'lampfarm-test-secret',
            'http_method_override' => false,
            'router' => ['utf8' => true],
            'csrf_protection' => true,
            // php/README.md, config/packages/framework.yaml
            'session' => [
                'storage_factory_id' => 'session.storage.factory.native',
                'handler_id' => \LampfarmSessionHandler::class,
                'use_cookies' => false,
                'metadata_update_threshold' => 120,
            ],
        ]);

        $services = $container->services();
        // php/README.md, config/services.yaml
        $services->set(\LampfarmSessionHandler::class)
            ->class(\LampfarmSessionHandler::class)
            ->arg('$options', [
                'prefix' => 'php:',
                'max_size' => 65536,
                'configure_ini' => true,
            ])
            ->tag('kernel.reset', ['method' => 'reset']);

        $services->set(SessionController::class)
            ->public()
            ->autowire()
            ->arg('$markDir', '%env(APP_MARK_DIR)%')
            ->tag('controller.service_arguments');
    }

    private function configureRoutes(RoutingConfigurator $routes): void
    {
        $c = SessionController::class;
        $routes->add('home', '/')->controller([$c, 'home'])->methods(['GET']);
        $routes->add('login_form', '/login')->controller([$c, 'loginForm'])->methods(['GET']);
        $routes->add('login', '/login')->controller([$c, 'login'])->methods(['POST']);
        $routes->add('logout', '/logout')->controller([$c, 'logout'])->methods(['POST']);
        $routes->add('me', '/me')->controller([$c, 'me'])->methods(['GET']);
        $routes->add('attr', '/attr')->controller([$c, 'attr'])->methods(['POST']);
        $routes->add('flash', '/flash')->controller([$c, 'flash'])->methods(['GET']);
        $routes->add('flashes', '/flashes')->controller([$c, 'flashes'])->methods(['GET']);
        $routes->add('download', '/download/{name}')->controller([$c, 'download'])
            ->methods(['GET', 'HEAD'])->requirements(['name' => '.+']);
    }
}
