'use strict'
// append.js --dir DIR --count N --rand-seed INT [--max-size BYTES]
//
// Opens an existing writable hypercore 9 directory (key and secret_key files),
// appends N PRNG blocks (see lib.js randomBlock; --max-size defaults to 4096)
// in one batch, closes it and prints the same JSON as write.js for the whole
// feed: {key, length, byteLength, blocks, dataSha256, signature}.

const { args, int, call, openFeed, readKeys, randomBlock, mulberry32, feedSummary, main } = require('./lib')

main(async function () {
  const opt = args({
    dir: { type: 'string' },
    count: { type: 'string' },
    'rand-seed': { type: 'string' },
    'max-size': { type: 'string', default: '4096' }
  }, ['dir', 'count', 'rand-seed'])
  const count = int(opt, 'count')
  const maxSize = int(opt, 'max-size')
  const { key, secretKey } = readKeys(opt.dir)
  if (!secretKey) throw new Error(`${opt.dir}: no secret_key file, feed is not writable`)

  const feed = await openFeed(opt.dir, key, { secretKey, createIfMissing: false })
  try {
    const rng = mulberry32(int(opt, 'rand-seed'))
    const batch = []
    for (let i = 0; i < count; i++) batch.push(randomBlock(rng, maxSize))
    await call(feed, 'append', batch)
    return await feedSummary(feed)
  } finally {
    await call(feed, 'close')
  }
})
