'use strict'
// Helpers shared by the interop and benchmark scripts: argument parsing,
// a deterministic PRNG, promise wrappers for hypercore 9's callback API and
// the "one JSON object on stdout" convention.

const crypto = require('crypto')
const fs = require('fs')
const path = require('path')
const { parseArgs } = require('util')
const hypercore = require('hypercore')

// args parses process.argv against spec ({name: {type, default?}}) and
// checks that every option listed in required is present.
function args (spec, required) {
  const { values } = parseArgs({ options: spec, strict: true, allowPositionals: false })
  for (const name of required) {
    if (values[name] === undefined) throw usage(`missing --${name}`)
  }
  return values
}

// int parses a non-negative decimal integer option.
function int (values, name) {
  const s = values[name]
  if (!/^[0-9]+$/.test(s)) throw usage(`--${name} must be a non-negative integer, got ${JSON.stringify(s)}`)
  return Number(s)
}

function usage (msg) {
  const err = new Error(msg)
  err.usage = true
  return err
}

// mulberry32 is a tiny deterministic 32-bit PRNG. next() returns a uint32.
// Documented in README.md so that other implementations can reproduce it.
function mulberry32 (seed) {
  let a = seed >>> 0
  const next = function () {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }
  return {
    next,
    // int returns a uniform integer in [0, n) for 0 < n <= 2^32.
    int (n) { return Math.floor(next() * n / 0x100000000) },
    // bytes returns n PRNG bytes: uint32 words written little-endian, the
    // last word truncated.
    bytes (n) {
      const buf = Buffer.allocUnsafe((n + 3) & ~3)
      for (let i = 0; i < buf.length; i += 4) buf.writeUInt32LE(next(), i)
      return buf.subarray(0, n)
    }
  }
}

// randomBlock draws one block: its size is uniform in [0, min(maxSize, 4096)],
// except with probability 1/50 uniform in [0, maxSize]; its bytes are PRNG bytes.
function randomBlock (rng, maxSize) {
  const big = rng.int(50) === 0
  const size = rng.int((big ? maxSize : Math.min(maxSize, 4096)) + 1)
  return rng.bytes(size)
}

function sha256 (buf) {
  return crypto.createHash('sha256').update(buf).digest('hex')
}

// call invokes fn(...args, cb) and returns a promise for cb's result.
function call (obj, fn, ...rest) {
  return new Promise((resolve, reject) => {
    obj[fn](...rest, (err, val) => err ? reject(err) : resolve(val))
  })
}

// openFeed opens (or creates) a hypercore 9 feed on disk and waits for ready.
async function openFeed (dir, key, opts) {
  const feed = hypercore(dir, key, opts)
  // An open failure (e.g. ELOCKED: another process holds the flock on
  // `bitfield`) is also emitted as 'error'; ready() reports it to us.
  feed.on('error', () => {})
  await call(feed, 'ready')
  return feed
}

// readKeys returns the key (and secret_key, or null) files of a feed directory.
function readKeys (dir) {
  const keyFile = path.join(dir, 'key')
  if (!fs.existsSync(keyFile)) throw new Error(`${keyFile}: no such file (not a hypercore directory?)`)
  const key = fs.readFileSync(keyFile)
  if (key.length !== 32) throw new Error(`${keyFile}: ${key.length} bytes, want 32`)
  const skFile = path.join(dir, 'secret_key')
  const secretKey = fs.existsSync(skFile) ? fs.readFileSync(skFile) : null
  return { key, secretKey }
}

// blockHashes reads every block of feed and returns the sha256 hex of each,
// or null for a block that is not available locally (never waits for peers),
// plus the sha256 of all blocks concatenated (null if any block is missing).
async function blockHashes (feed) {
  const blocks = []
  const all = crypto.createHash('sha256')
  let complete = true
  const chunk = 1024
  for (let start = 0; start < feed.length; start += chunk) {
    const end = Math.min(start + chunk, feed.length)
    let bufs
    if (feed.has(start, end)) {
      bufs = await call(feed, 'getBatch', start, end, { valueEncoding: 'binary' })
    } else {
      bufs = []
      for (let i = start; i < end; i++) {
        bufs.push(await call(feed, 'get', i, { valueEncoding: 'binary', wait: false }).catch(() => null))
      }
    }
    for (const buf of bufs) {
      if (buf === null) {
        complete = false
        blocks.push(null)
        continue
      }
      all.update(buf)
      blocks.push(sha256(buf))
    }
  }
  return { blocks, dataSha256: complete ? all.digest('hex') : null }
}

// feedSummary is the JSON printed by write.js and append.js.
async function feedSummary (feed) {
  const { blocks, dataSha256 } = await blockHashes(feed)
  const sig = feed.length > 0 ? await call(feed, 'signature') : null
  return {
    key: feed.key.toString('hex'),
    length: feed.length,
    byteLength: feed.byteLength,
    blocks,
    dataSha256,
    signature: sig ? sig.signature.toString('hex') : null
  }
}

// main runs fn, prints its result as one JSON line and exits 0; on error it
// prints the message (the stack if HYPERFS_JS_STACK is set) on stderr and
// exits 2 (usage) or 1 (anything else).
function main (fn) {
  // Exit only once the write is flushed: stdout to a pipe is asynchronous and
  // process.exit would cut the JSON at 64 KiB.
  fn().then((out) => {
    process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(0))
  }, (err) => {
    const bad = err.usage || String(err.code).startsWith('ERR_PARSE_ARGS')
    const detail = process.env.HYPERFS_JS_STACK ? err.stack : err.message
    process.stderr.write(`${path.basename(process.argv[1])}: ${detail}\n`, () => process.exit(bad ? 2 : 1))
  })
}

module.exports = { args, int, usage, mulberry32, randomBlock, sha256, call, openFeed, readKeys, blockHashes, feedSummary, main }
