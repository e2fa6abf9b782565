'use strict'
// peer.js: a JS hypercore 9 replication peer over TCP, for the Go<->JS
// replication tests. It prints one JSON object per line on stdout as things
// happen, and exits 0 when its work is done (or, with --serve, when stdin
// closes).
//
//   --dir DIR             feed directory (writable if it has secret_key)
//   --key HEX             the feed key, for a replica directory that is new
//   --listen PORT         accept connections (prints {"listening": PORT})
//   --connect HOST:PORT   dial one peer instead
//   --sparse              replicate sparsely (only what get/follow asks)
//   --live                keep replicating (live: true)
//   --get I,J,...         get these blocks; prints {"got": I, "sha256": ...}
//   --wait-length N       wait until N blocks are local, then print the
//                         summary (length, byteLength, dataSha256, audit)
//   --follow N            print {"block": I, "sha256": ...} for every block
//                         from index 0 as it arrives, until N blocks
//   --append N            append N blocks, one per line read on stdin
//                         (each prints {"appended": I, "size", "sha256"});
//                         the Go side paces
//   --serve               stay until stdin closes
//   --rand-seed INT       PRNG seed for --append blocks (default 1)
//   --extensions A,B,...  register these feed extensions; each message
//                         received prints {"extension": NAME, "message":
//                         UTF-8} and is answered with "echo:" + message
//   --stream-extensions A,B,...
//                         register these stream extensions on every
//                         replication stream (protocol.registerExtension);
//                         each message received prints {"streamExtension":
//                         NAME, "message": UTF-8} and is answered with
//                         "echo:" + message on the same stream
//   --stream-hello NAME:TEXT
//                         send TEXT as stream extension NAME (one of
//                         --stream-extensions) on every stream as it opens
//   --ack                 replicate with ack: true: the remote acks each
//                         Data we send; each ack prints {"ack": INDEX}
//   --stall               never answer a request for a block's value, as
//                         a peer whose disk hangs: the block read of
//                         hypercore's replicator never calls back, while
//                         the stream stays alive (keep-alives, hashes)

const net = require('net')
const readline = require('readline')
const { args, int, call, openFeed, readKeys, mulberry32, randomBlock, sha256, blockHashes, main } = require('./lib')

function emit (obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

main(async function () {
  const opt = args({
    dir: { type: 'string' },
    key: { type: 'string' },
    listen: { type: 'string' },
    connect: { type: 'string' },
    sparse: { type: 'boolean', default: false },
    live: { type: 'boolean', default: false },
    get: { type: 'string' },
    'wait-length': { type: 'string' },
    follow: { type: 'string' },
    append: { type: 'string' },
    serve: { type: 'boolean', default: false },
    'rand-seed': { type: 'string', default: '1' },
    extensions: { type: 'string' },
    'stream-extensions': { type: 'string' },
    'stream-hello': { type: 'string' },
    ack: { type: 'boolean', default: false },
    stall: { type: 'boolean', default: false }
  }, ['dir'])

  let key = opt.key ? Buffer.from(opt.key, 'hex') : null
  let secretKey = null
  try {
    ({ key, secretKey } = readKeys(opt.dir))
  } catch (err) {
    if (!key) throw err
  }
  const feed = await openFeed(opt.dir, key, { secretKey, sparse: opt.sparse })
  // lib/replicate.js reads a requested block with _getBuffer and sends
  // Data from its callback: one that never comes is a stalled read.
  if (opt.stall) feed._getBuffer = function () {}
  // Registered before any stream opens: a channel's Options lists them.
  for (const name of (opt.extensions ? opt.extensions.split(',') : [])) {
    const ext = feed.registerExtension(name, {
      encoding: 'binary',
      onmessage (message, peer) {
        emit({ extension: name, message: message.toString() })
        ext.send(Buffer.from('echo:' + message.toString()), peer)
      }
    })
  }
  const sockets = []
  const replicate = (socket, initiator) => {
    sockets.push(socket)
    socket.on('error', () => {})
    const stream = feed.replicate(initiator, { live: opt.live, ack: opt.ack })
    stream.on('error', (err) => emit({ streamError: err.message }))
    stream.on('ack', (have) => emit({ ack: have.start }))
    const streamExts = {}
    for (const name of (opt['stream-extensions'] ? opt['stream-extensions'].split(',') : [])) {
      streamExts[name] = stream.registerExtension(name, {
        encoding: 'binary',
        onmessage (message) {
          emit({ streamExtension: name, message: message.toString() })
          streamExts[name].send(Buffer.from('echo:' + message.toString()))
        }
      })
    }
    if (opt['stream-hello']) {
      const [name, ...text] = opt['stream-hello'].split(':')
      // Queued until the handshake is done, then sent with our names.
      streamExts[name].send(Buffer.from(text.join(':')))
    }
    socket.pipe(stream).pipe(socket)
  }

  if (opt.listen !== undefined) {
    const server = net.createServer((socket) => replicate(socket, false))
    await new Promise((resolve) => server.listen(int(opt, 'listen'), '127.0.0.1', resolve))
    sockets.push({ destroy: () => server.close() })
    emit({ listening: server.address().port })
  }
  if (opt.connect) {
    const [host, port] = opt.connect.split(':')
    const socket = net.connect(Number(port), host)
    await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
    replicate(socket, true)
  }

  const work = []
  if (opt.get) {
    for (const s of opt.get.split(',')) {
      const i = Number(s)
      const buf = await call(feed, 'get', i, { valueEncoding: 'binary' })
      emit({ got: i, sha256: sha256(buf) })
    }
    let downloaded = 0
    for (let i = 0; i < feed.length; i++) if (feed.has(i)) downloaded++
    emit({ length: feed.length, downloaded })
  }
  if (opt.follow) {
    const n = int(opt, 'follow')
    work.push(new Promise((resolve, reject) => {
      let i = 0
      const next = () => {
        if (i >= n) return resolve()
        feed.get(i, { valueEncoding: 'binary' }, (err, buf) => {
          if (err) return reject(err)
          emit({ block: i, sha256: sha256(buf) })
          i++
          next()
        })
      }
      next()
    }))
  }
  if (opt.append) {
    const n = int(opt, 'append')
    const rng = mulberry32(int(opt, 'rand-seed'))
    const rl = readline.createInterface({ input: process.stdin })
    let done = 0
    work.push(new Promise((resolve, reject) => {
      if (n === 0) return resolve()
      rl.on('line', () => {
        const block = randomBlock(rng, 4096)
        // The callback's seq is the block's index: feed.length is not yet
        // updated when lines come faster than appends complete.
        feed.append(block, (err, seq) => {
          if (err) return reject(err)
          emit({ appended: seq, size: block.length, sha256: sha256(block) })
          if (++done === n) { rl.close(); resolve() }
        })
      })
    }))
  }
  if (opt['wait-length']) {
    const n = int(opt, 'wait-length')
    await new Promise((resolve, reject) => {
      feed.download({ start: 0, end: n }, (err) => err ? reject(err) : resolve())
    })
  }
  await Promise.all(work)
  if (opt.serve) {
    emit({ serving: true })
    await new Promise((resolve) => {
      process.stdin.on('end', resolve)
      process.stdin.on('close', resolve)
      process.stdin.resume()
    })
  }
  const audit = await call(feed, 'audit')
  const { dataSha256 } = await blockHashes(feed)
  let downloaded = 0
  for (let i = 0; i < feed.length; i++) if (feed.has(i)) downloaded++
  for (const s of sockets) s.destroy()
  await call(feed, 'close')
  return { length: feed.length, byteLength: feed.byteLength, downloaded, dataSha256, audit }
})
