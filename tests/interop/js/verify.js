'use strict'
// verify.js --dir DIR
//
// Opens an existing hypercore 9 directory (written by anyone) with the key from
// its `key` file, audits it (re-hashes every present block against the tree;
// hypercore clears the bitfield bit of each bad block on disk), verifies the
// signature over the full length, reads every block and prints
// {key, length, byteLength, writable, audit: {valid, invalid},
//  signatureVerified, blocks, dataSha256}.
// A block that is not present (e.g. failed the audit) is null in blocks, and
// then dataSha256 is null.

const { args, call, openFeed, readKeys, blockHashes, main } = require('./lib')

main(async function () {
  const opt = args({ dir: { type: 'string' } }, ['dir'])
  const { key } = readKeys(opt.dir)
  // hypercore loads secret_key itself when the file exists.
  const feed = await openFeed(opt.dir, key, { createIfMissing: false })
  try {
    const audit = await call(feed, 'audit')

    let signatureVerified = false
    if (feed.length > 0) {
      // signature(cb) yields {index, signature}: the first stored signature at
      // or after length-1, i.e. the one over the whole feed.
      try {
        const sig = await call(feed, 'signature')
        signatureVerified = await call(feed, 'verify', feed.length - 1, sig.signature)
      } catch (err) {
        process.stderr.write(`verify.js: signature: ${err.message}\n`)
      }
    }

    const { blocks, dataSha256 } = await blockHashes(feed)
    return {
      key: feed.key.toString('hex'),
      length: feed.length,
      byteLength: feed.byteLength,
      writable: feed.writable,
      audit: { valid: audit.valid, invalid: audit.invalid },
      signatureVerified,
      blocks,
      dataSha256
    }
  } finally {
    // Closing releases the flock that hypercore holds on `bitfield`.
    await call(feed, 'close')
  }
})
