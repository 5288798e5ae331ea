'use strict';
/*
 * The proxy-chain contender for bench/run.sh: Apify's proxy-chain Server as a
 * forward proxy that sends every request and every CONNECT tunnel through one
 * upstream HTTP proxy, the role rotor plays with a one-entry pool.
 *
 * usage: node proxy_chain.js NODE_MODULES_DIR LISTEN_PORT UPSTREAM_URL
 */
const path = require('path');

const [modDir, port, upstream] = process.argv.slice(2);
if (!modDir || !port || !upstream) {
  process.stderr.write('usage: node proxy_chain.js NODE_MODULES_DIR LISTEN_PORT UPSTREAM_URL\n');
  process.exit(2);
}
const ProxyChain = require(path.join(modDir, 'proxy-chain'));

const server = new ProxyChain.Server({
  host: '127.0.0.1',
  port: Number(port),
  verbose: false,
  prepareRequestFunction: () => ({ upstreamProxyUrl: upstream }),
});

server.listen(() => {
  process.stdout.write(`proxy-chain listening on 127.0.0.1:${port} via ${upstream}\n`);
});

const stop = () => server.close(true, () => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
