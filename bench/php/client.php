<?php
// bench:gearman's PHP client (php-gearman over libgearman). Times only the loop, not PHP's start-up, and
// prints {"ms": ..., "count": ...}.
// Usage: php client.php <host> <port> <function> <serial|tasks|background> <count>
[, $host, $port, $function, $mode, $count] = $argv;
$count = (int) $count;
$client = new GearmanClient();
$client->addServer($host, (int) $port);
// Connected and warm before the clock starts (background mode has no workers to answer a doNormal).
if ($mode === 'background') $client->doBackground($function . '_queued', '0');
else $client->doNormal($function, '0');

$started = hrtime(true);
$checked = 0;
switch ($mode) {
    case 'serial':
        for ($i = 0; $i < $count; $i++) {
            if ((int) $client->doNormal($function, (string) $i) === $i + 1) $checked++;
        }
        break;
    case 'tasks':
        $client->setCompleteCallback(function (GearmanTask $task) use (&$checked) {
            $checked++;
        });
        for ($i = 0; $i < $count; $i++) $client->addTask($function, (string) $i);
        $client->runTasks();
        break;
    case 'background':
        // Nobody serves this name: the jobs stay queued in gearmand, as background jobs waiting for workers do.
        for ($i = 0; $i < $count; $i++) {
            if ($client->doBackground($function . '_queued', (string) $i) !== '') $checked++;
        }
        break;
}
$ms = (hrtime(true) - $started) / 1e6;
echo json_encode(['ms' => $ms, 'count' => $checked]), "\n";
