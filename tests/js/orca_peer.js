'use strict';
// grpc-js as an independent ORCA (gRFC A51) and weighted_round_robin (gRFC A58) peer for the Rust tests.
//
//   node orca_peer.js server '{"backends":[{"cpu":0.2,"qps":100,"eps":0,"app":0,"named":{"k":1}}],"oob":true}'
//     One grpc-js server per backend on 127.0.0.1 (port 0). Echo.Unary answers {message: "<index>", index}
//     and records the backend's values into the call's per-call ORCA report (plus request cost
//     {"cost": 1.5}); a non-zero fail_code fails the call with that code, after recording. With "oob" each
//     server also serves OpenRcaService from a ServerMetricRecorder holding the same values. Prints
//     {"ports":[...]} once all listen, then runs until stdin closes or SIGTERM.
//     Optional backend keys: "mem" (mem_utilization), "utilization" (the utilization map). "per_call": false
//     turns the per-call reports off: grpc-js 1.14.7 re-parses orca.proto for every report it serializes
//     or parses (about 10 ms each here), so OOB-only runs go faster without them.
//
//   node orca_peer.js client '{"target":"ipv4:127.0.0.1:P1,127.0.0.1:P2","config":{...},"calls":N,"warmup_ms":M}'
//     A grpc-js channel with grpc.service_config = config; waits for ready, sends unary calls for warmup_ms
//     (so that weights are learned past the blackout period), then N calls, and prints
//     {"counts":{"<message>":count,...},"errors":K}. Optional: "ready_ms" (default 10000).
//
// Errors go to stderr with exit code 1.

const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..');

// $ENV_DIR/bin/node sets NODE_PATH; the fallback lets a plain `node` run this too.
function load(name) {
    try {
        return require(name);
    } catch (e) {
        if (e.code !== 'MODULE_NOT_FOUND') throw e;
        const envDir = process.env.RSGRPC_TEST_ENV_DIR || path.join(ROOT, 'target', 'test-env');
        try {
            return require(path.join(envDir, 'node', 'node_modules', name));
        } catch (e2) {
            process.stderr.write(`orca_peer: cannot load ${name} (run tests/env/setup.sh): ${e2.message}\n`);
            process.exit(1);
        }
    }
}

const grpc = load('@grpc/grpc-js');
const protoLoader = load('@grpc/proto-loader');

function fail(message) {
    process.stderr.write(`orca_peer: ${message}\n`);
    process.exit(1);
}

function echoService() {
    const definition = protoLoader.loadSync('rsgrpc/test/services/echo.proto', {
        includeDirs: [path.join(ROOT, 'testdata', 'protos')],
        keepCase: true,
        longs: String,
        enums: String,
        defaults: true,
        oneofs: true,
    });
    return grpc.loadPackageDefinition(definition).rsgrpc.test.echo.Echo;
}

function recordPerCall(recorder, backend) {
    if (backend.cpu !== undefined) recorder.recordCPUUtilizationMetric(backend.cpu);
    if (backend.mem !== undefined) recorder.recordMemoryUtilizationMetric(backend.mem);
    if (backend.app !== undefined) recorder.recordApplicationUtilizationMetric(backend.app);
    if (backend.qps !== undefined) recorder.recordQpsMetric(backend.qps);
    if (backend.eps !== undefined) recorder.recordEpsMetric(backend.eps);
    for (const [name, value] of Object.entries(backend.utilization || {})) {
        recorder.recordUtilizationMetric(name, value);
    }
    for (const [name, value] of Object.entries(backend.named || {})) {
        recorder.recordNamedMetric(name, value);
    }
    recorder.recordRequestCostMetric('cost', 1.5);
}

function oobRecorder(backend) {
    const recorder = new grpc.ServerMetricRecorder();
    if (backend.cpu !== undefined) recorder.setCpuUtilizationMetric(backend.cpu);
    if (backend.app !== undefined) recorder.setApplicationUtilizationMetric(backend.app);
    if (backend.qps !== undefined) recorder.setQpsMetric(backend.qps);
    if (backend.eps !== undefined) recorder.setEpsMetric(backend.eps);
    for (const [name, value] of Object.entries(backend.utilization || {})) {
        recorder.putUtilizationMetric(name, value);
    }
    // grpc-js 1.14.7's ServerMetricRecorder has no setter for named metrics or memory; its reports are
    // its `message` field as it stands at each tick, so these go there directly.
    if (backend.named) recorder.message.named_metrics = Object.assign({}, backend.named);
    if (backend.mem !== undefined) recorder.message.mem_utilization = backend.mem;
    return recorder;
}

function bind(server) {
    return new Promise((resolve, reject) => {
        server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
            if (err) reject(err);
            else resolve(port);
        });
    });
}

async function runServer(args) {
    if (!Array.isArray(args.backends) || args.backends.length === 0) {
        fail('server: "backends" must be a non-empty array');
    }
    const Echo = echoService();
    const servers = args.backends.map((backend, index) => {
        const server = new grpc.Server({ 'grpc.server_call_metric_recording': args.per_call !== false });
        server.addService(Echo.service, {
            Unary: (call, callback) => {
                recordPerCall(call.getMetricsRecorder(), backend);
                const answer = () => {
                    const code = call.request.fail_code;
                    if (code) {
                        callback({ code, details: call.request.message || `failed with ${code}` });
                    } else {
                        callback(null, { message: String(index), index });
                    }
                };
                if (call.request.delay_ms > 0) setTimeout(answer, call.request.delay_ms);
                else answer();
            },
        });
        if (args.oob) oobRecorder(backend).addToServer(server);
        return server;
    });
    const ports = await Promise.all(servers.map(bind));

    let stopping = false;
    const stop = () => {
        if (stopping) return;
        stopping = true;
        for (const server of servers) server.forceShutdown();
        process.exit(0);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    process.stdin.on('end', stop);
    process.stdin.on('close', stop);
    process.stdin.on('error', stop);
    process.stdin.resume();
    process.stdout.write(JSON.stringify({ ports }) + '\n');
}

function unary(client, request) {
    return new Promise(resolve => {
        client.Unary(request, { deadline: Date.now() + 5000 }, (err, response) => {
            resolve(err ? { err } : { response });
        });
    });
}

async function runClient(args) {
    if (typeof args.target !== 'string') fail('client: "target" must be a string');
    const calls = args.calls === undefined ? 100 : args.calls;
    const warmupMs = args.warmup_ms || 0;
    const Echo = echoService();
    const options = {};
    if (args.config !== undefined) options['grpc.service_config'] = JSON.stringify(args.config);
    const client = new Echo(args.target, grpc.credentials.createInsecure(), options);

    await new Promise(resolve => {
        client.waitForReady(Date.now() + (args.ready_ms || 10000), err => {
            if (err) fail(`client: channel not ready: ${err.message}`);
            resolve();
        });
    });

    const request = { message: 'wrr' };
    const warmupEnd = Date.now() + warmupMs;
    while (Date.now() < warmupEnd) await unary(client, request);

    const counts = {};
    let errors = 0;
    let firstError = null;
    for (let i = 0; i < calls; i++) {
        const { err, response } = await unary(client, request);
        if (err) {
            errors += 1;
            firstError = firstError || err;
        } else {
            counts[response.message] = (counts[response.message] || 0) + 1;
        }
    }
    if (firstError) process.stderr.write(`orca_peer: first call error: ${firstError.message}\n`);
    client.close();
    process.stdout.write(JSON.stringify({ counts, errors }) + '\n', () => process.exit(0));
}

function main() {
    const [mode, json] = process.argv.slice(2);
    let args;
    try {
        args = JSON.parse(json === undefined ? '{}' : json);
    } catch (e) {
        fail(`the argument is not JSON: ${e.message}`);
    }
    let run;
    if (mode === 'server') run = runServer;
    else if (mode === 'client') run = runClient;
    else fail(`usage: orca_peer.js server|client '<json>' (got mode ${JSON.stringify(mode)})`);
    run(args).catch(e => fail(e && e.stack ? e.stack : String(e)));
}

main();
