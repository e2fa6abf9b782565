'use strict'
// bench.js --workload W --dir DIR [--block-size S] [--batch B] [--count N] [--rand-seed INT]
//
// Times one hypercore 9 workload on a fresh feed in DIR, for side-by-side
// comparison with the Go benchmarks. Workloads:
//   append      append N blocks of S bytes in batches of B, awaiting each batch
//               (--batch 1: awaited single appends)
//   get-seq     read blocks 0..N-1 one awaited get at a time
//   get-random  read N PRNG-chosen indexes one awaited get at a time
//   seek        N awaited feed.seek(offset) at PRNG-chosen byte offsets
// The read workloads first write N blocks of S bytes, close and reopen the
// feed; only the loop above is timed. Prints
// {workload, ops, seconds, opsPerSec, bytesPerSec} (bytesPerSec is 0 for seek).

const fs = require('fs')
const { args, int, usage, mulberry32, call, openFeed, main } = require('./lib')

const workloads = { append: benchAppend, 'get-seq': benchGet, 'get-random': benchGet, seek: benchSeek }

main(async function () {
  const opt = args({
    workload: { type: 'string' },
    dir: { type: 'string' },
    'block-size': { type: 'string', default: '4096' },
    batch: { type: 'string', default: '1' },
    count: { type: 'string', default: '10000' },
    'rand-seed': { type: 'string', default: '1' }
  }, ['workload', 'dir'])
  const run = workloads[opt.workload]
  if (!run) throw usage(`unknown --workload ${JSON.stringify(opt.workload)}, want one of ${Object.keys(workloads).join(', ')}`)
  if (fs.existsSync(opt.dir) && fs.readdirSync(opt.dir).length > 0) throw new Error(`${opt.dir}: not empty`)
  const p = {
    workload: opt.workload,
    dir: opt.dir,
    size: int(opt, 'block-size'),
    batch: int(opt, 'batch'),
    count: int(opt, 'count'),
    rng: mulberry32(int(opt, 'rand-seed'))
  }
  if (p.batch < 1) throw usage('--batch must be at least 1')
  const { ops, bytes, ns } = await run(p)
  const seconds = Number(ns) / 1e9
  return { workload: p.workload, ops, seconds, opsPerSec: ops / seconds, bytesPerSec: bytes / seconds }
})

// appendBlocks appends count copies of block in batches of batch, awaiting each.
async function appendBlocks (feed, block, count, batch) {
  for (let done = 0; done < count;) {
    const n = Math.min(batch, count - done)
    await call(feed, 'append', new Array(n).fill(block))
    done += n
  }
}

async function benchAppend (p) {
  const feed = await openFeed(p.dir)
  const block = p.rng.bytes(p.size)
  const t0 = process.hrtime.bigint()
  await appendBlocks(feed, block, p.count, p.batch)
  const ns = process.hrtime.bigint() - t0
  await call(feed, 'close')
  return { ops: p.count, bytes: p.count * p.size, ns }
}

// setupRead writes count blocks of size bytes, then reopens the feed so the
// timed reads do not start with hypercore's in-memory caches warm.
async function setupRead (p) {
  const feed = await openFeed(p.dir)
  await appendBlocks(feed, p.rng.bytes(p.size), p.count, 1024)
  await call(feed, 'close')
  return openFeed(p.dir)
}

async function benchGet (p) {
  const feed = await setupRead(p)
  const idx = new Array(p.count)
  for (let i = 0; i < p.count; i++) idx[i] = p.workload === 'get-seq' ? i : p.rng.int(p.count)
  let bytes = 0
  const t0 = process.hrtime.bigint()
  for (const i of idx) bytes += (await call(feed, 'get', i)).length
  const ns = process.hrtime.bigint() - t0
  await call(feed, 'close')
  return { ops: p.count, bytes, ns }
}

async function benchSeek (p) {
  if (p.size === 0 || p.count === 0) throw usage('seek needs --block-size and --count above 0')
  const feed = await setupRead(p)
  const offsets = new Array(p.count)
  // byteLength may exceed 2^32: scale a 53-bit PRNG fraction.
  for (let i = 0; i < p.count; i++) {
    const f = (p.rng.next() * 0x200000 + (p.rng.next() >>> 11)) / 2 ** 53
    offsets[i] = Math.floor(f * feed.byteLength)
  }
  const t0 = process.hrtime.bigint()
  for (const off of offsets) await call(feed, 'seek', off)
  const ns = process.hrtime.bigint() - t0
  await call(feed, 'close')
  return { ops: p.count, bytes: 0, ns }
}
