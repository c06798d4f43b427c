// Drives one CUSTOMER chat with AWS's own chat client (amazon-connect-chatjs) under Node, for
// tests/chatjs/test_chatjs.py. The Python test is the conductor: it writes one command a line
// on stdin ({"id": n, "cmd": "...", "args": {...}}) and this script answers one JSON line a
// step on stdout ({"id": n, "step": "...", "ok": true, "result": ...} or "ok": false with
// "error"), and one JSON line per chatjs event ({"event": "message", "data": {...}}).
// Everything else (chatjs's own logs, console output) goes to stderr with anything that looks
// like a token masked. Node modules come from CHATJS_NODE_MODULES (a cache outside the repo).
"use strict";

const path = require("path");
const readline = require("readline");
const { createRequire } = require("module");

const modulesDir = process.env.CHATJS_NODE_MODULES;
if (!modulesDir) {
    process.stderr.write("CHATJS_NODE_MODULES is not set\n");
    process.exit(2);
}
const requireFromCache = createRequire(path.join(modulesDir, "package.json"));

// Tokens of the emulator are 64 URL-safe characters; ids are UUIDs (36, with hyphens).
const TOKEN_LIKE = /[A-Za-z0-9_-]{40,}/g;
const scrub = (text) => String(text).replace(TOKEN_LIKE, "<redacted>");

const writeOut = process.stdout.write.bind(process.stdout);
const emit = (obj) => writeOut(JSON.stringify(obj) + "\n");
const logErr = (...args) => {
    const text = args
        .map((a) => (typeof a === "string" ? a : safeJson(a)))
        .join(" ");
    process.stderr.write(scrub(text) + "\n");
};
function safeJson(value) {
    try {
        return JSON.stringify(value);
    } catch (_err) {
        return String(value);
    }
}
// Nothing but protocol lines on stdout.
for (const name of ["log", "info", "debug", "warn", "error", "trace"]) {
    console[name] = logErr;
}

// The four globals chatjs needs outside a browser.
const { WebSocket } = requireFromCache("ws");
Object.defineProperty(globalThis, "self", { value: globalThis, configurable: true, writable: true });
Object.defineProperty(globalThis, "window", { value: globalThis, configurable: true, writable: true });
Object.defineProperty(globalThis, "navigator", {
    value: { userAgent: `node/${process.version} participant-chatjs-check`, onLine: true },
    configurable: true,
    writable: true,
});
// chatjs's websocket manager uses the global WebSocket; this one also reports, as events,
// what the test cannot see from chatjs's callbacks: the socket opening and closing (with its
// code) and the server's answer to aws/subscribe (frames sent before it are not delivered).
class ObservedWebSocket extends WebSocket {
    constructor(...args) {
        super(...args);
        this.addEventListener("open", () => emit({ event: "wsOpen", data: {} }));
        this.addEventListener("close", (e) => emit({ event: "wsClose", data: { code: e.code } }));
        this.addEventListener("message", (e) => {
            let frame;
            try {
                frame = JSON.parse(String(e.data));
            } catch (_err) {
                return;
            }
            if (frame && frame.topic === "aws/subscribe") {
                emit({ event: "wsSubscribe", data: { status: frame.content && frame.content.status } });
            }
        });
    }
}
globalThis.WebSocket = ObservedWebSocket;
if (!globalThis.crypto || !globalThis.crypto.getRandomValues) {
    // Node 18 has no global Web Crypto (chatjs's uuid needs getRandomValues).
    Object.defineProperty(globalThis, "crypto", {
        value: require("crypto").webcrypto,
        configurable: true,
        writable: true,
    });
}

requireFromCache("amazon-connect-chatjs");
const connect = globalThis.connect;

const quietLogger = {
    debug() {},
    info() {},
    warn: (m) => logErr(m),
    error: (m) => logErr(m),
    advancedLog() {},
};

let session = null;

// Item fields worth showing to the test (never chatDetails: it holds the tokens).
function item(data) {
    if (!data || typeof data !== "object") {
        return data;
    }
    const keep = [
        "Id", "Type", "ContentType", "Content", "ParticipantId", "ParticipantRole",
        "DisplayName", "AbsoluteTime", "Attachments", "MessageMetadata", "ContactId",
        "InitialContactId", "RelatedContactId",
    ];
    const out = {};
    for (const key of keep) {
        if (data[key] !== undefined) {
            out[key] = data[key];
        }
    }
    return out;
}

function subscribeAll(s) {
    const on = (method, name, map = (e) => item(e && e.data)) => {
        s[method]((event) => {
            try {
                emit({ event: name, data: map(event) });
            } catch (err) {
                logErr("event handler failed", String(err));
            }
        });
    };
    on("onMessage", "message");
    on("onTyping", "typing");
    on("onReadReceipt", "read");
    on("onDeliveredReceipt", "delivered");
    on("onConnectionEstablished", "connectionEstablished", () => ({}));
    on("onConnectionLost", "connectionLost", () => ({}));
    on("onConnectionBroken", "connectionBroken", () => ({}));
    on("onEnded", "ended", () => ({}));
    // chatjs's own transcript view (5.x): subscribing makes chatjs call getTranscript on
    // every connection gain, so it fills what it missed while the socket was down.
    on("onTranscriptUpdated", "transcriptUpdated", (e) => ({
        items: ((e && e.data && e.data.transcript) || []).map((t) => ({
            Id: t.Id,
            Type: t.Type,
            Status: t.MessageMetadata && t.MessageMetadata.Status,
        })),
    }));
}

function errorText(err) {
    if (err === undefined || err === null) {
        return String(err);
    }
    if (typeof err === "string") {
        return scrub(err);
    }
    if (err instanceof Error) {
        return scrub(`${err.name}: ${err.message}`);
    }
    // chatjs rejects with plain objects ({type, message, statusCode, stack} or
    // {reason, _debug}); the stack says nothing about the wire.
    const { stack: _stack, ...rest } = err;
    return scrub(safeJson(rest));
}

async function blobToBase64(blob) {
    const buffer = Buffer.from(await blob.arrayBuffer());
    return buffer.toString("base64");
}

const commands = {
    async setup(args) {
        connect.ChatSession.setGlobalConfig({
            region: args.region,
            endpoint: args.endpoint,
            loggerConfig: {
                customizedLogger: quietLogger,
                level: connect.LogLevel.WARN,
                advancedLogWriter: "info",
            },
            features: { messageReceipts: { shouldSendMessageReceipts: true, throttleTime: args.receiptThrottleMs } },
        });
        session = connect.ChatSession.create({
            chatDetails: {
                ContactId: args.contactId,
                ParticipantId: args.participantId,
                ParticipantToken: args.participantToken,
            },
            options: { region: args.region },
            type: connect.ChatSession.SessionTypes.CUSTOMER,
            disableCSM: true,
        });
        if (!session) {
            throw new Error("ChatSession.create returned nothing (see stderr)");
        }
        subscribeAll(session);
        const answer = await session.connect();
        return { connectSuccess: answer.connectSuccess, connectCalled: answer.connectCalled };
    },
    async sendMessage(args) {
        const answer = await session.sendMessage({ message: args.message, contentType: args.contentType });
        const meta = answer.data.$metadata || {};
        return { Id: answer.data.Id, AbsoluteTime: answer.data.AbsoluteTime, attempts: meta.attempts };
    },
    async sendEvent(args) {
        const answer = await session.sendEvent({ contentType: args.contentType, content: args.content });
        // A receipt chatjs skipped resolves with {message: "Event already fired"}.
        return answer && answer.data ? { Id: answer.data.Id, AbsoluteTime: answer.data.AbsoluteTime } : answer;
    },
    async getTranscript(args) {
        const answer = await session.getTranscript(args);
        return {
            Transcript: answer.data.Transcript.map(item),
            NextToken: answer.data.NextToken === undefined ? null : answer.data.NextToken,
            InitialContactId: answer.data.InitialContactId,
        };
    },
    async sendAttachment(args) {
        const bytes = Buffer.from(args.base64, "base64");
        const FileClass = globalThis.File;
        const attachment = FileClass
            ? new FileClass([bytes], args.name, { type: args.type })
            : Object.assign(new Blob([bytes], { type: args.type }), { name: args.name });
        await session.sendAttachment({ attachment });
        return { sent: true };
    },
    async downloadAttachment(args) {
        const blob = await session.downloadAttachment({ attachmentId: args.attachmentId });
        return { base64: await blobToBase64(blob), size: blob.size, type: blob.type };
    },
    async getConnectionStatus() {
        return { status: session.controller.getConnectionStatus() };
    },
    async disconnectParticipant() {
        await session.disconnectParticipant();
        return { disconnected: true };
    },
    async exit() {
        setImmediate(() => process.exit(0));
        return { exiting: true };
    },
};

process.on("unhandledRejection", (reason) => {
    logErr("unhandled rejection:", errorText(reason));
});

const lines = readline.createInterface({ input: process.stdin });
lines.on("line", (line) => {
    let request;
    try {
        request = JSON.parse(line);
    } catch (_err) {
        emit({ step: "?", ok: false, error: "bad command line" });
        return;
    }
    const handler = commands[request.cmd];
    if (!handler) {
        emit({ id: request.id, step: request.cmd, ok: false, error: "unknown command" });
        return;
    }
    Promise.resolve()
        .then(() => handler(request.args || {}))
        .then(
            (result) => emit({ id: request.id, step: request.cmd, ok: true, result }),
            (err) => emit({ id: request.id, step: request.cmd, ok: false, error: errorText(err) }),
        );
});
lines.on("close", () => process.exit(0));
emit({ event: "ready", data: { node: process.version, chatjs: connect.ChatJS && connect.ChatJS.version } });
