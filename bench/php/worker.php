<?php
// bench:gearman's PHP worker (php-gearman over libgearman): the same tiny job as gearshift's `inc`.
// Usage: php worker.php <host> <port> <function>
[, $host, $port, $function] = $argv;
$worker = new GearmanWorker();
$worker->addServer($host, (int) $port);
$worker->addFunction($function, function (GearmanJob $job) {
    return json_encode(json_decode($job->workload()) + 1);
});
fwrite(STDOUT, "ready\n");
while ($worker->work());
