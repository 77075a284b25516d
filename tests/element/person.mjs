// One device of a Matrix person on Element's own crypto stack: matrix-js-sdk with its Rust
// crypto (@matrix-org/matrix-sdk-crypto-wasm, the code inside Element Web and Desktop), in an
// in-memory store. The test suite drives it over stdin/stdout, one JSON object a line:
//   in:  {"id": 1, "cmd": "send", "room": "!r:localhost", "body": "!task 1"}
//   out: {"id": 1, "ok": true, "result": {...}}  or  {"id": 1, "ok": false, "error": "..."}
// The SDK's own log goes to standard error.

import { createInterface } from "node:readline";

for (const level of ["log", "info", "debug", "warn", "error", "trace"]) {
  console[level] = (...args) => process.stderr.write(args.map(String).join(" ") + "\n");
}

const sdk = await import("matrix-js-sdk");
const cryptoApi = await import("matrix-js-sdk/lib/crypto-api/index.js");

const MEGOLM = {
  type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" },
};
const POLL_MS = 10;

let client = null;
let me = { userId: null, password: null };
const secretStorageKeys = new Map(); // key id -> private key, as Element caches it
const timeline = []; // MatrixEvents in the order this device saw them

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(found, timeoutS, what) {
  const deadline = Date.now() + timeoutS * 1000;
  for (;;) {
    const value = await found();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutS} s`);
    await sleep(POLL_MS);
  }
}

function crypto() {
  if (!client) throw new Error("not logged in");
  return client.getCrypto();
}

async function login({ homeserver, user_id, password, device_name }) {
  const session = await sdk.createClient({ baseUrl: homeserver }).loginRequest({
    type: "m.login.password", identifier: { type: "m.id.user", user: user_id }, password,
    initial_device_display_name: device_name,
  });
  me = { userId: user_id, password };
  client = sdk.createClient({
    baseUrl: homeserver, userId: user_id, accessToken: session.access_token,
    deviceId: session.device_id,
    cryptoCallbacks: {
      getSecretStorageKey: async ({ keys }) => {
        const id = Object.keys(keys).find((keyId) => secretStorageKeys.has(keyId));
        return id ? [id, secretStorageKeys.get(id)] : null;
      },
      cacheSecretStorageKey: (keyId, _info, key) => secretStorageKeys.set(keyId, key),
    },
  });
  await client.initRustCrypto({ useIndexedDB: false });
  client.on(sdk.RoomEvent.Timeline, (event, room) => { if (room) timeline.push(event); });
  const prepared = new Promise((resolve) => client.on(sdk.ClientEvent.Sync, (state) => {
    if (state === "PREPARED") resolve();
  }));
  await client.startClient({ initialSyncLimit: 20 });
  await prepared;
  return { device_id: session.device_id };
}

/** Cross-signing, then secret storage under a new recovery key, as Element's first login. */
async function bootstrap() {
  await crypto().bootstrapCrossSigning({
    authUploadDeviceSigningKeys: async (makeRequest) => {
      try {
        await makeRequest(null);
      } catch (error) {
        if (!error.data?.flows) throw error;
        await makeRequest({
          type: "m.login.password", identifier: { type: "m.id.user", user: me.userId },
          password: me.password, session: error.data.session,
        });
      }
    },
  });
  let recoveryKey = null;
  await crypto().bootstrapSecretStorage({
    setupNewSecretStorage: true,
    createSecretStorageKey: async () => {
      const key = await crypto().createRecoveryKeyFromPassphrase();
      recoveryKey = key.encodedPrivateKey;
      return key;
    },
  });
  return {
    master_key: await crypto().getCrossSigningKeyId(),
    recovery_key: recoveryKey,
    ready: await crypto().isCrossSigningReady(),
  };
}

function setIsolation({ exclude_insecure }) {
  crypto().setDeviceIsolationMode(exclude_insecure
    ? new cryptoApi.OnlySignedDevicesIsolationMode()
    : new cryptoApi.AllDevicesIsolationMode(false));
  return { exclude_insecure };
}

/** The room once this device has synced it, with its encryption state when there is one. */
async function known(roomId, encrypted, timeoutS = 20) {
  await until(async () => client.getRoom(roomId)
    && (!encrypted || await crypto().isEncryptionEnabledInRoom(roomId)), timeoutS,
  `sync of ${roomId}`);
  return { room_id: roomId };
}

/** A DM the way Element opens one: direct, trusted_private_chat, encrypted from its first
 *  event, then listed in m.direct. */
async function createDm({ user_id }) {
  const { room_id } = await client.createRoom({
    is_direct: true, preset: sdk.Preset.TrustedPrivateChat, invite: [user_id],
    initial_state: [MEGOLM],
  });
  const direct = client.getAccountData(sdk.EventType.Direct)?.getContent() ?? {};
  direct[user_id] = [...(direct[user_id] ?? []), room_id];
  await client.setAccountData(sdk.EventType.Direct, direct);
  return known(room_id, true);
}

async function createRoom({ invite = [], name, encrypted = true }) {
  const { room_id } = await client.createRoom({
    preset: sdk.Preset.PrivateChat, invite, ...(name ? { name } : {}),
    initial_state: encrypted ? [MEGOLM] : [],
  });
  return known(room_id, encrypted);
}

async function join({ room }) {
  await client.joinRoom(room);
  return known(room, false);
}

async function invite({ room, user_id }) {
  await client.invite(room, user_id);
  return {};
}

async function waitMember({ room, user_id, timeout = 20 }) {
  await until(() => client.getRoom(room)?.getMember(user_id)?.membership === "join", timeout,
    `${user_id} joined in ${room}`);
  return {};
}

async function send({ room, body }) {
  if (!client.getRoom(room)) throw new Error(`room ${room} is not known to this device`);
  const { event_id } = await client.sendMessage(room, { msgtype: "m.text", body });
  return { event_id };
}

async function describe(event) {
  const content = event.getContent();
  const info = event.isEncrypted() && !event.isDecryptionFailure()
    ? await crypto().getEncryptionInfoForEvent(event) : null;
  return {
    event_id: event.getId(), sender: event.getSender(), type: event.getType(),
    encrypted: event.isEncrypted(), body: content.body ?? null, content,
    failure: event.isDecryptionFailure() ? event.decryptionFailureReason : null,
    shield: info && { colour: info.shieldColour, reason: info.shieldReason },
  };
}

/** The first event in *room* from *sender*, seen after *after* (an event id), that is a
 *  decrypted (or clear) message — with *reply_to* / *contains* if given — or, with
 *  want = "failure", one this device could not decrypt (for *reason*, if given). */
async function waitEvent({ room, sender, after, reply_to, contains, want = "clear", reason,
  timeout = 20 }) {
  const matches = (event) => {
    if (event.getRoomId() !== room || (sender && event.getSender() !== sender)) return false;
    if (event.isBeingDecrypted() || event.shouldAttemptDecryption()) return false;
    if (want === "failure") {
      return event.isDecryptionFailure() && (!reason || event.decryptionFailureReason === reason);
    }
    if (event.isDecryptionFailure() || event.getType() !== "m.room.message") return false;
    const content = event.getContent();
    return (!reply_to || content["m.relates_to"]?.["m.in_reply_to"]?.event_id === reply_to)
      && (!contains || (content.body ?? "").includes(contains));
  };
  const since = () => {
    const start = after ? timeline.findIndex((event) => event.getId() === after) : -1;
    return after && start < 0 ? [] : timeline.slice(start + 1);
  };
  try {
    return await describe(await until(() => since().find(matches), timeout,
      `${want} event from ${sender ?? "anyone"} in ${room}`));
  } catch (error) {
    const failed = since().filter((event) => event.getRoomId() === room
      && (!sender || event.getSender() === sender) && event.isDecryptionFailure());
    if (!failed.length) throw error;
    const reasons = failed.map((event) => event.decryptionFailureReason).join(", ");
    throw new Error(`${error.message}; undecryptable here: ${reasons}`);
  }
}

/** The messages of *sender* in *room* as Element lists them: edits (m.replace) applied to
 *  their originals by the SDK, not lines of their own. Waits until one whose shown body
 *  includes *contains* is there (and, with *edited*, shows an edit). */
async function displayed({ room, sender, contains = "", edited = false, timeout = 20 }) {
  const shown = () => timeline.filter((event) => event.getRoomId() === room
    && event.getSender() === sender && event.getType() === "m.room.message"
    && !event.isDecryptionFailure() && !event.isRelation(sdk.RelationType.Replace));
  const found = await until(() => shown().find((event) => (event.getContent().body ?? "")
    .includes(contains) && (!edited || event.replacingEventId())), timeout,
  `message with ${contains} from ${sender} in ${room}`);
  return {
    found: found.getId(),
    messages: shown().map((event) => ({
      event_id: event.getId(), body: event.getContent().body ?? null,
      content: event.getContent(), edited_by: event.replacingEventId() ?? null,
      encrypted: event.isEncrypted(),
    })),
  };
}

/** *body* sent, then the reply from *sender* once decrypted, with the milliseconds between
 *  (measured here: no round trip to the test suite in it). */
async function ask({ room, body, sender, timeout = 30 }) {
  const started = performance.now();
  const { event_id } = await send({ room, body });
  const answer = await waitEvent({ room, sender, reply_to: event_id, timeout });
  return { ...answer, asked: event_id, ms: performance.now() - started };
}

/** Every device of *user_id* as this device sees it, once it knows of *include*. Only a
 *  user this device shares a room with is tracked: for others the Rust crypto lists the
 *  devices but not whether their owner signed them. */
async function devices({ user_id, include, timeout = 20 }) {
  const known = async () => (await crypto().getUserDeviceInfo([user_id], true)).get(user_id);
  const map = await until(async () => {
    const found = await known();
    return (!include || found?.has(include)) && (found ?? new Map());
  }, timeout, `device ${include} of ${user_id}`);
  const result = {};
  for (const deviceId of map.keys()) {
    const status = await crypto().getDeviceVerificationStatus(user_id, deviceId);
    result[deviceId] = {
      signed_by_owner: status?.signedByOwner ?? false,
      cross_signing_verified: status?.crossSigningVerified ?? false,
    };
  }
  return result;
}

async function stop() {
  client?.stopClient();
  setTimeout(() => process.exit(0), 10);
  return {};
}

const COMMANDS = {
  login, bootstrap, set_isolation: setIsolation, create_dm: createDm, create_room: createRoom,
  join, invite, wait_member: waitMember, send, wait_event: waitEvent, ask, devices, stop,
  displayed,
};

function reply(message) {
  process.stdout.write(JSON.stringify(message) + "\n");
}

createInterface({ input: process.stdin }).on("line", async (line) => {
  let request;
  try {
    request = JSON.parse(line);
  } catch {
    return reply({ id: null, ok: false, error: `not JSON: ${line.slice(0, 80)}` });
  }
  const { id, cmd, ...args } = request;
  const command = COMMANDS[cmd];
  if (!command) return reply({ id, ok: false, error: `unknown command ${cmd}` });
  try {
    reply({ id, ok: true, result: await command(args) });
  } catch (error) {
    reply({ id, ok: false, error: `${cmd}: ${error?.message ?? error}` });
  }
}).on("close", () => process.exit(0));
