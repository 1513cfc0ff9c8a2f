// node-resque as a peer for forkq's test suite: one JSON command in argv[2], JSON lines out.
//   {"cmd":"enqueue","jobs":[{"queue","class","args"}]}
//   {"cmd":"enqueueAt","timestamp_ms","queue","class","args"}
//   {"cmd":"enqueueLocked","queue","class","args","lock_timeout"} -> {"enqueued": bool}:
//      enqueue through node-resque's QueueLock plugin (a unique job)
//   {"cmd":"work","queues":[...],"jobs":{Name: {"behaviour":"record"|"fail","list":key,
//    "message","sleep_ms","started":key}},"count":N,"timeout_ms":T}
//                                               -> works until N jobs ended, then exits
//      ("started": a list the job pushes to as it begins, so a test can meet it mid-job)
//   {"cmd":"hold", ...same as work}             -> prints {"ready":..} and works until SIGTERM
//   {"cmd":"call","method":"workers"|"workingOn"|...,"args":[...]} -> a Queue method's answer
// Every command also takes "port" (the suite's redis-server) and "namespace".
// node-resque is resolved through NODE_PATH: tests/run.sh installs it outside tests/.
"use strict";
const { Queue, Worker, Plugins } = require("node-resque");
const IORedis = require("ioredis");

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

function jobsFrom(spec, plain) {
  const jobs = {};
  for (const [name, how] of Object.entries(spec || {})) {
    jobs[name] = {
      perform: async (...args) => {
        if (how.started) {
          await plain.rpush(how.started, JSON.stringify({ class: name, args, pid: process.pid }));
        }
        if (how.behaviour === "fail") throw new Error(how.message || "node-resque failure");
        if (how.sleep_ms) await new Promise((r) => setTimeout(r, how.sleep_ms));
        await plain.rpush(how.list, JSON.stringify({ class: name, args, pid: process.pid }));
        return true;
      },
    };
  }
  return jobs;
}

async function main() {
  const cmd = JSON.parse(process.argv[2]);
  const connectionDetails = {
    host: "127.0.0.1",
    port: cmd.port,
    namespace: cmd.namespace || "resque",
  };
  const plain = new IORedis({ host: "127.0.0.1", port: cmd.port });
  const queue = new Queue({ connection: connectionDetails }, {});
  queue.on("error", (e) => out({ event: "error", error: String(e) }));
  await queue.connect();
  try {
    if (cmd.cmd === "enqueue") {
      for (const j of cmd.jobs) await queue.enqueue(j.queue, j.class, j.args);
      out({ ok: true });
    } else if (cmd.cmd === "enqueueAt") {
      await queue.enqueueAt(cmd.timestamp_ms, cmd.queue, cmd.class, cmd.args);
      out({ ok: true });
    } else if (cmd.cmd === "enqueueLocked") {
      const locked = new Queue({ connection: connectionDetails }, {
        [cmd.class]: { plugins: [Plugins.QueueLock],
                       pluginOptions: { QueueLock: { lockTimeout: cmd.lock_timeout || 3600 } },
                       perform: async () => true } });
      await locked.connect();
      out({ enqueued: (await locked.enqueue(cmd.queue, cmd.class, cmd.args)) !== false });
      await locked.end();
    } else if (cmd.cmd === "call") {
      out({ result: await queue[cmd.method](...(cmd.args || [])) });
    } else if (cmd.cmd === "work" || cmd.cmd === "hold") {
      await work(cmd, connectionDetails, plain);
    } else {
      throw new Error("unknown command " + cmd.cmd);
    }
  } finally {
    await queue.end();
    plain.disconnect();
  }
}

async function work(cmd, connectionDetails, plain) {
  const worker = new Worker(
    { connection: connectionDetails, queues: cmd.queues, timeout: 20 },
    jobsFrom(cmd.jobs, plain),
  );
  let ended = 0;
  let done;
  const finished = new Promise((resolve) => (done = resolve));
  const count = () => {
    ended += 1;
    if (cmd.cmd === "work" && ended >= cmd.count) done();
  };
  worker.on("success", count);
  worker.on("failure", count);
  worker.on("error", (e) => out({ event: "error", error: String(e) }));
  await worker.connect();
  await worker.start();
  if (cmd.cmd === "hold") {
    process.on("SIGTERM", done);
    out({ ready: true, name: worker.name, pid: process.pid });
  } else {
    setTimeout(done, cmd.timeout_ms || 20000);
  }
  await finished;
  await worker.end();
  out({ ok: true, ended, name: worker.name });
}

main().then(
  () => process.exit(0), // a safety timer may still be pending
  (e) => {
    out({ error: String(e && e.stack ? e.stack : e) });
    process.exit(1);
  },
);
