'use strict'
// bench-replicate.js MODE ...: JS hypercore 9 replication over TCP, for
// bench/replicate.sh. Every mode prints one JSON object per line on stdout.
//
//   make   --dir DIR --count N --block-size S [--rand-seed 1]
//          new writable feed in empty DIR: N blocks of S PRNG bytes, appended
//          in batches of ~1 MiB; prints {key, length, byteLength}
//   seed   --dir DIR [--listen PORT]
//          serve DIR on 127.0.0.1 (port 0 picks one); prints {listening,
//          pid}, then {served: K} as each connection ends; exits when stdin
//          closes, printing {served, vmHWMKiB}
//   clone  --dir DIR --key HEX --length N --connect HOST:PORT
//          full clone into the new replica DIR; the clock runs from before
//          the connect to the last block verified and stored; prints
//          {seconds, blocks, bytes, mbPerSec, blocksPerSec, processSeconds}
//          (processSeconds: from node's start, as a shell would time it)
//   sparse --dir DIR --key HEX --length N --connect HOST:PORT [--gets 1000]
//          [--rand-seed 1]
//          sparse replica; once the length is known and one block came
//          through (a warm connection), times each get of --gets distinct
//          PRNG-chosen missing blocks; prints {gets, p50Ms, p99Ms, meanMs}

const fs = require('fs')
const net = require('net')
const { args, int, usage, mulberry32, call, openFeed, readKeys, main } = require('./lib')

function emit (obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

function vmHWMKiB (pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) : null
}

const modes = { make, seed, clone, sparse }

main(async function () {
  const mode = process.argv[2]
  if (!modes[mode]) throw usage(`first argument must be one of ${Object.keys(modes).join(', ')}`)
  process.argv.splice(2, 1)
  return modes[mode]()
})

async function make () {
  const opt = args({
    dir: { type: 'string' },
    count: { type: 'string' },
    'block-size': { type: 'string' },
    'rand-seed': { type: 'string', default: '1' }
  }, ['dir', 'count', 'block-size'])
  if (fs.existsSync(opt.dir) && fs.readdirSync(opt.dir).length > 0) throw new Error(`${opt.dir}: not empty`)
  const count = int(opt, 'count')
  const size = int(opt, 'block-size')
  const rng = mulberry32(int(opt, 'rand-seed'))
  const feed = await openFeed(opt.dir)
  const perBatch = Math.max(1, Math.floor((1 << 20) / Math.max(size, 1)))
  for (let done = 0; done < count;) {
    const n = Math.min(perBatch, count - done)
    const batch = []
    for (let i = 0; i < n; i++) batch.push(rng.bytes(size))
    await call(feed, 'append', batch)
    done += n
  }
  const out = { key: feed.key.toString('hex'), length: feed.length, byteLength: feed.byteLength }
  await call(feed, 'close')
  return out
}

async function seed () {
  const opt = args({ dir: { type: 'string' }, listen: { type: 'string', default: '0' } }, ['dir'])
  const { key, secretKey } = readKeys(opt.dir)
  const feed = await openFeed(opt.dir, key, { secretKey })
  let served = 0
  const sockets = new Set()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    const stream = feed.replicate(false, { live: true })
    const done = () => {
      if (!sockets.delete(socket)) return
      served++
      emit({ served })
    }
    socket.on('error', () => {})
    stream.on('error', () => {})
    socket.on('close', done)
    socket.pipe(stream).pipe(socket)
  })
  await new Promise((resolve) => server.listen(int(opt, 'listen'), '127.0.0.1', resolve))
  emit({ listening: server.address().port, pid: process.pid })
  await new Promise((resolve) => {
    process.stdin.on('end', resolve)
    process.stdin.on('close', resolve)
    process.stdin.resume()
  })
  server.close()
  for (const s of sockets) s.destroy()
  await call(feed, 'close')
  return { served, vmHWMKiB: vmHWMKiB(process.pid) }
}

function replicaArgs (extra) {
  const opt = args({
    dir: { type: 'string' },
    key: { type: 'string' },
    length: { type: 'string' },
    connect: { type: 'string' },
    ...extra
  }, ['dir', 'key', 'length', 'connect'])
  if (!/^[0-9a-fA-F]{64}$/.test(opt.key)) throw usage('--key must be 64 hex digits')
  if (fs.existsSync(opt.dir) && fs.readdirSync(opt.dir).length > 0) throw new Error(`${opt.dir}: not empty`)
  return opt
}

async function connect (feed, addr, live) {
  const i = addr.lastIndexOf(':')
  const socket = net.connect(Number(addr.slice(i + 1)), addr.slice(0, i))
  socket.setNoDelay(true)
  await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  socket.on('error', () => {})
  const stream = feed.replicate(true, { live })
  stream.on('error', () => {})
  socket.pipe(stream).pipe(socket)
  return socket
}

async function clone () {
  const opt = replicaArgs({})
  const n = int(opt, 'length')
  const feed = await openFeed(opt.dir, Buffer.from(opt.key, 'hex'), { sparse: false })
  const t0 = process.hrtime.bigint()
  const socket = await connect(feed, opt.connect, false)
  await new Promise((resolve, reject) => {
    feed.download({ start: 0, end: n }, (err) => err ? reject(err) : resolve())
  })
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  const processSeconds = process.uptime()
  const bytes = feed.byteLength
  socket.destroy()
  await call(feed, 'close')
  return { seconds, blocks: n, bytes, mbPerSec: bytes / seconds / 1e6, blocksPerSec: n / seconds, processSeconds }
}

async function sparse () {
  const opt = replicaArgs({
    gets: { type: 'string', default: '1000' },
    'rand-seed': { type: 'string', default: '1' }
  })
  const n = int(opt, 'length')
  const gets = int(opt, 'gets')
  if (gets + 1 > n) throw usage('--gets must be below --length')
  const rng = mulberry32(int(opt, 'rand-seed'))
  // Distinct indexes: a Fisher-Yates shuffle of 0..n-1.
  const order = Array.from({ length: n }, (_, i) => i)
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1)
    const t = order[i]; order[i] = order[j]; order[j] = t
  }
  const feed = await openFeed(opt.dir, Buffer.from(opt.key, 'hex'), { sparse: true })
  const socket = await connect(feed, opt.connect, true)
  while (feed.length < n) await call(feed, 'update', { minLength: n, ifAvailable: false })
  await call(feed, 'get', order[0], { valueEncoding: 'binary' })
  const lat = []
  for (let k = 1; k <= gets; k++) {
    const t0 = process.hrtime.bigint()
    await call(feed, 'get', order[k], { valueEncoding: 'binary' })
    lat.push(Number(process.hrtime.bigint() - t0) / 1e6)
  }
  socket.destroy()
  await call(feed, 'close')
  const sorted = lat.slice().sort((a, b) => a - b)
  const q = (p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
  return { gets, p50Ms: q(0.5), p99Ms: q(0.99), meanMs: lat.reduce((a, b) => a + b, 0) / lat.length }
}
