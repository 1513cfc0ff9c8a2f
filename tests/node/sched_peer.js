// node-resque's Scheduler as a peer for forkq's scheduler tests: one JSON command in argv[2],
// JSON lines out.
//   {"cmd":"scheduler","port","namespace","timeout_ms","leader_lock_timeout"}
//     -> prints {"ready":..} and every "leader" and "transferredJob" event; runs until SIGTERM
// node-resque is resolved through NODE_PATH: tests/run.sh installs it outside tests/.
"use strict";
const { Scheduler } = require("node-resque");

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

async function main() {
  const cmd = JSON.parse(process.argv[2]);
  const connection = { host: "127.0.0.1", port: cmd.port, namespace: cmd.namespace || "resque" };
  const scheduler = new Scheduler({
    connection,
    timeout: cmd.timeout_ms || 100,
    leaderLockTimeout: cmd.leader_lock_timeout || 180,
    stuckWorkerTimeout: 0,
  });
  scheduler.on("leader", () => out({ event: "leader" }));
  scheduler.on("transferredJob", (timestamp, job) =>
    out({ event: "transferredJob", timestamp, job }),
  );
  scheduler.on("error", (e) => out({ event: "error", error: String(e) }));
  await scheduler.connect();
  await scheduler.start();
  out({ ready: true, name: scheduler.name, pid: process.pid });
  await new Promise((resolve) => process.on("SIGTERM", resolve));
  await scheduler.end();
  out({ ok: true });
}

main().then(
  () => process.exit(0),
  (e) => {
    out({ error: String(e && e.stack ? e.stack : e) });
    process.exit(1);
  },
);
