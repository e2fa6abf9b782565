'use strict'
// write.js --dir DIR --seed HEX32 --count N --max-size BYTES --rand-seed INT [--max-batch K]
//
// Creates a hypercore 9 feed in the fresh directory DIR with the Ed25519 key
// pair derived from the 32-byte seed, appends N PRNG blocks (see lib.js
// randomBlock) in batches of PRNG size 1..K, closes it and prints
// {key, length, byteLength, blocks, dataSha256, signature}.

const fs = require('fs')
const hcrypto = require('hypercore-crypto')
const { args, int, usage, mulberry32, randomBlock, call, openFeed, feedSummary, main } = require('./lib')

main(async function () {
  const opt = args({
    dir: { type: 'string' },
    seed: { type: 'string' },
    count: { type: 'string' },
    'max-size': { type: 'string' },
    'rand-seed': { type: 'string' },
    'max-batch': { type: 'string', default: '64' }
  }, ['dir', 'seed', 'count', 'max-size', 'rand-seed'])
  if (!/^[0-9a-fA-F]{64}$/.test(opt.seed)) throw usage('--seed must be 64 hex digits')
  const count = int(opt, 'count')
  const maxSize = int(opt, 'max-size')
  const maxBatch = int(opt, 'max-batch')
  if (maxBatch < 1) throw usage('--max-batch must be at least 1')
  if (fs.existsSync(opt.dir) && fs.readdirSync(opt.dir).length > 0) throw new Error(`${opt.dir}: not empty`)

  const { publicKey, secretKey } = hcrypto.keyPair(Buffer.from(opt.seed, 'hex'))
  const feed = await openFeed(opt.dir, publicKey, { secretKey })
  const rng = mulberry32(int(opt, 'rand-seed'))

  for (let done = 0; done < count;) {
    const n = Math.min(1 + rng.int(maxBatch), count - done)
    const batch = []
    for (let i = 0; i < n; i++) batch.push(randomBlock(rng, maxSize))
    await call(feed, 'append', batch)
    done += n
  }

  const out = await feedSummary(feed)
  await call(feed, 'close')
  return out
})
