// An MD5-sess Digest server for soapsess's tests: http-auth asks for
// Digest and checks the answer; what it lets through is proxied to the
// upstream URL (the reference server), so that a real session runs
// through real auth.
//
//   node digest-proxy.js PORT HTDIGEST-FILE REALM ALGORITHM UPSTREAM
//
// ALGORITHM is MD5 or MD5-sess (http-auth does those two). It listens on
// 127.0.0.1 and prints "listening" once it does.
"use strict";

const http = require("http");
const auth = require("http-auth");

const [port, file, realm, algorithm, upstream] = process.argv.slice(2);
const target = new URL(upstream);
const digest = auth.digest({ realm, file, algorithm });

const server = http.createServer(
  digest.check((req, res) => {
    const headers = { ...req.headers, host: target.host };
    delete headers.authorization; // spent here, as a proxy that checked it
    const up = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers },
      (reply) => {
        res.writeHead(reply.statusCode, reply.statusMessage, reply.headers);
        reply.pipe(res);
      }
    );
    up.on("error", (err) => {
      res.writeHead(502, { "Content-Type": "text/plain" });
      res.end(`upstream: ${err.message}\n`);
    });
    req.pipe(up);
  })
);
server.listen(Number(port), "127.0.0.1", () => console.log("listening"));
