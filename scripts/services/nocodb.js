// Starts NocoDB in library mode on 127.0.0.1 (no Docker): an express app, NocoDB mounted on it.
// Env: PORT, NC_DB (sqlite3://?d=/path/noco.db), NC_AUTH_JWT_SECRET, NC_DISABLE_TELE=true;
// NODE_PATH must point at the installed node_modules (scripts/services/install.sh).
const http = require('http');
const express = require('express');
const { Noco } = require('nocodb');

async function main() {
  const port = Number(process.env.PORT);
  if (!port) throw new Error('set PORT to the port NocoDB should listen on');
  const app = express();
  const server = http.createServer(app);
  server.listen(port, '127.0.0.1');
  app.use(await Noco.init({}, server, app));
  console.log(`nocodb ready on http://127.0.0.1:${port}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
