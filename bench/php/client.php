<?php
// bench:gearman's PHP client (php-gearman over libgearman). Runs a warm-up round of the same kind first
// (as the gearshift side does), then times only the measured round, not PHP's start-up, and prints
// {"ms": ..., "count": ...}.
// Usage: php client.php <host> <port> <function> <serial|tasks|background> <count> <warm-up count>
[, $host, $port, $function, $mode, $count, $warmup] = $argv;
$client = new GearmanClient();
$client->addServer($host, (int) $port);

/** Runs $count jobs of the mode; returns how many came back right. */
function round_of(GearmanClient $client, string $function, string $mode, int $count): int {
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
    return $checked;
}

round_of($client, $function, $mode, (int) $warmup);
$started = hrtime(true);
$checked = round_of($client, $function, $mode, (int) $count);
$ms = (hrtime(true) - $started) / 1e6;
echo json_encode(['ms' => $ms, 'count' => $checked]), "\n";
