// Baseline broadcast server for tavla-bench --target node: WebSocket over
// TLS with the npm `ws` package, every received text message sent to every
// connected client (the sender included), nothing parsed, nothing stored.
// Usage: node server.js --cert CERT --key KEY --port PORT (127.0.0.1 only)
'use strict';
const fs = require('fs');
const https = require('https');
const { WebSocketServer, WebSocket } = require('ws');

const arg = (name, def) => {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 ? process.argv[i + 1] : def;
};
const server = https.createServer({
  cert: fs.readFileSync(arg('cert')),
  key: fs.readFileSync(arg('key')),
});
const wss = new WebSocketServer({ server, path: '/ws', perMessageDeflate: false });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    for (const client of wss.clients) {
      if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
    }
  });
});
server.listen(Number(arg('port', '9444')), '127.0.0.1', () => {
  console.log('baseline ready port=' + server.address().port);
});
