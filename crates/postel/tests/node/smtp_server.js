#!/usr/bin/env node
// nodemailer's smtp-server as a real, independent SMTP server for postel's interop
// tests (crates/postel/tests/smtp_server_node.rs). Install with scripts/node-deps.sh.
//
//   node smtp_server.js --dir DIR [--key FILE --cert FILE] [--require-tls]
//        [--user NAME:PASSWORD]... [--auth-methods PLAIN,LOGIN,CRAM-MD5,XOAUTH2]
//        [--allow-insecure-auth] [--refuse ADDRESS]... [--defer ADDRESS]... [--size OCTETS]
//
// Listens on 127.0.0.1, port 0; the first line on stdout is the bound port. For the
// n-th message accepted (from 1) it writes, before it answers the final dot:
//   DIR/n.eml   the DATA content exactly as the server got it (un-stuffed, no terminator)
//   DIR/n.json  the envelope (mailFrom, rcptTo with their ESMTP args), the body type,
//               SMTPUTF8, TLS and the logged-in user
// DIR/commands.log gets every command line the server reads (AUTH data redacted by
// smtp-server), one per line, so a test can see what reached the server.
//
// --user NAME:PASSWORD    accounts; with any, AUTH is offered and required for MAIL
// --require-tls           MAIL and RCPT before STARTTLS get 530 5.7.0
// --allow-insecure-auth   AUTH over plaintext is accepted (refused with 538 otherwise)
// --refuse ADDRESS        RCPT TO this address gets 550 5.1.1
// --defer ADDRESS         RCPT TO this address gets 450 4.2.1
// --size OCTETS           SIZE limit: advertised, and enforced at MAIL and after DATA
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { parseArgs } = require('node:util');
const { SMTPServer } = require('smtp-server');

const { values: opts } = parseArgs({
    options: {
        dir: { type: 'string' },
        key: { type: 'string' },
        cert: { type: 'string' },
        'require-tls': { type: 'boolean', default: false },
        user: { type: 'string', multiple: true, default: [] },
        'auth-methods': { type: 'string', default: 'PLAIN,LOGIN,CRAM-MD5,XOAUTH2' },
        'allow-insecure-auth': { type: 'boolean', default: false },
        refuse: { type: 'string', multiple: true, default: [] },
        defer: { type: 'string', multiple: true, default: [] },
        size: { type: 'string' }
    }
});

if (!opts.dir) {
    process.stderr.write('smtp_server.js: --dir DIR is required\n');
    process.exit(2);
}
fs.mkdirSync(opts.dir, { recursive: true });

const users = new Map(
    opts.user.map(u => {
        const at = u.indexOf(':');
        if (at < 1) {
            process.stderr.write(`smtp_server.js: --user wants NAME:PASSWORD, got ${u}\n`);
            process.exit(2);
        }
        return [u.slice(0, at), u.slice(at + 1)];
    })
);
const refused = new Set(opts.refuse.map(a => a.toLowerCase()));
const deferred = new Set(opts.defer.map(a => a.toLowerCase()));
const commandLog = path.join(opts.dir, 'commands.log');

// smtp-server logs each command it reads as debug('C:', line); keep those lines.
const logger = {
    debug(_meta, message, ...args) {
        if (message === 'C:') {
            fs.appendFileSync(commandLog, `${args.join(' ')}\n`);
        }
    },
    info() {},
    warn() {},
    error(meta, ...args) {
        process.stderr.write(`smtp_server.js: ${args.join(' ')} ${meta && meta.err ? meta.err.stack : ''}\n`);
    },
    trace() {},
    fatal() {},
    child() {
        return logger;
    },
    level() {}
};

function tlsRequired(session) {
    if (opts['require-tls'] && !session.secure) {
        const err = new Error('5.7.0 Must issue a STARTTLS command first');
        err.responseCode = 530;
        return err;
    }
    return null;
}

let messages = 0;

const serverOptions = {
    name: 'node.postel.test',
    banner: 'smtp-server interop',
    logger,
    disableReverseLookup: true,
    allowInsecureAuth: opts['allow-insecure-auth'],
    hideENHANCEDSTATUSCODES: false,
    hideDSN: false,
    // Our own 530 for MAIL/RCPT stands for `require-tls`; smtp-server closes the
    // connection after 10 commands without AUTH, which a test never reaches.
    authOptional: users.size === 0,
    authMethods: users.size === 0 ? [] : opts['auth-methods'].split(',').filter(Boolean),
    disabledCommands: users.size === 0 ? ['AUTH'] : [],
    onAuth(auth, session, callback) {
        const password = users.get(auth.username);
        let ok = false;
        if (password !== undefined) {
            switch (auth.method) {
                case 'PLAIN':
                case 'LOGIN':
                    ok = auth.password === password;
                    break;
                case 'CRAM-MD5':
                    ok = auth.validatePassword(password);
                    break;
                case 'XOAUTH2':
                    // The access token a test passes is the account's password.
                    ok = auth.accessToken === password;
                    break;
            }
        }
        if (!ok) {
            if (auth.method === 'XOAUTH2') {
                return callback(null, { data: { status: '401', schemes: 'bearer', scope: 'mail' } });
            }
            return callback(new Error('Invalid username or password'));
        }
        callback(null, { user: { name: auth.username, method: auth.method } });
    },
    onMailFrom(_address, session, callback) {
        callback(tlsRequired(session));
    },
    onRcptTo(address, session, callback) {
        const err = tlsRequired(session);
        if (err) {
            return callback(err);
        }
        if (refused.has(address.address.toLowerCase())) {
            const e = new Error(`<${address.address}>: Recipient address rejected: User unknown`);
            e.responseCode = 550;
            return callback(e);
        }
        if (deferred.has(address.address.toLowerCase())) {
            const e = new Error('Mailbox busy, try again later');
            e.responseCode = 450;
            return callback(e);
        }
        callback();
    },
    onData(stream, session, callback) {
        const chunks = [];
        stream.on('data', chunk => chunks.push(chunk));
        stream.on('end', () => {
            if (stream.sizeExceeded) {
                // smtp-server answers 552 by itself; keep nothing.
                return callback();
            }
            messages += 1;
            const n = String(messages);
            fs.writeFileSync(path.join(opts.dir, `${n}.eml`), Buffer.concat(chunks));
            const envelope = {
                mailFrom: session.envelope.mailFrom,
                rcptTo: session.envelope.rcptTo,
                bodyType: session.envelope.bodyType || null,
                smtpUtf8: Boolean(session.envelope.smtpUtf8),
                secure: Boolean(session.secure),
                user: session.user || null,
                transaction: session.transaction
            };
            // The .json is the signal that the message is complete: rename it into place.
            const tmp = path.join(opts.dir, `${n}.json.tmp`);
            fs.writeFileSync(tmp, JSON.stringify(envelope, null, 1));
            fs.renameSync(tmp, path.join(opts.dir, `${n}.json`));
            callback(null, `OK: message ${n} queued`);
        });
    }
};

if (opts.size !== undefined) {
    serverOptions.size = Number(opts.size);
}
if (opts.key || opts.cert) {
    serverOptions.key = fs.readFileSync(opts.key);
    serverOptions.cert = fs.readFileSync(opts.cert);
} else {
    serverOptions.disabledCommands.push('STARTTLS');
}

const server = new SMTPServer(serverOptions);
server.on('error', err => {
    process.stderr.write(`smtp_server.js: ${err.stack || err}\n`);
});
server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${server.server.address().port}\n`);
});

// The test closes our stdin (or dies): go with it, so no server outlives its test.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
for (const sig of ['SIGTERM', 'SIGINT']) {
    process.on(sig, () => process.exit(0));
}
