// A real Emmett client for esctl's emmett-layout tests: every message is appended through Emmett's
// own PostgreSQL event store (@event-driven-io/emmett-postgresql), and the processor is Emmett's
// own reactor run by its own consumer, which checkpoints in emt_processors. Prints JSON on stdout.
//
//   node emmett_client.mjs seed URL PREFIX     streams, a processor run, then more messages
//   node emmett_client.mjs write URL CATEGORY N  N messages, 3 a transaction, in 2 streams
//   node emmett_client.mjs slow URL STREAM MS    one message whose append transaction stays open
//                                                MS ms (an inline projection of Emmett's runs in it)
//   node emmett_client.mjs read URL STREAM       the stream as Emmett's readStream returns it
//   node emmett_client.mjs append URL STREAM V   one message, expecting the stream at version V
//   node emmett_client.mjs process URL ID        run processor ID over what is new, then stop
import { projections } from '@event-driven-io/emmett';
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';

const [command, url, arg, count] = process.argv.slice(2);
const json = (value) =>
  JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? Number(v) : v));

const read = async (store, stream) => {
  const { events } = await store.readStream(stream);
  return events.map((e) => ({
    type: e.type,
    data: e.data,
    metadata: e.metadata,
  }));
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// `slow`: an inline projection (run by Emmett inside the append's transaction) that waits.
const options =
  command === 'slow'
    ? { projections: projections.inline([{ canHandle: ['Slow'], handle: () => sleep(Number(count)) }]) }
    : undefined;
const store = getPostgreSQLEventStore(url, options);

// Emmett's own processor: a reactor that handles everything there is after its checkpoint,
// checkpointing each message through store_processor_checkpoint, then stops.
const processAll = async (eventStore, processorId) => {
  const handled = [];
  const consumer = eventStore.consumer({ stopWhen: { noMessagesLeft: true } });
  consumer.reactor({
    processorId,
    eachMessage: async (message) => {
      handled.push(message.metadata.globalPosition);
    },
  });
  await consumer.start();
  await consumer.stop();
  return handled;
};
try {
  if (command === 'seed') {
    const cart = `${arg}cart-1`;
    const other = `${arg}cart-2`;
    const order = `${arg}order-1`;
    await store.appendToStream(cart, [
      { type: 'ProductItemAdded', data: { productId: 'shoes', quantity: 2 }, metadata: { correlation_id: 'c-1' } },
      { type: 'ProductItemAdded', data: { productId: 'socks', quantity: 1 } },
    ]);
    await store.appendToStream(cart, [{ type: 'ShoppingCartConfirmed', data: { total: 3 } }], {
      expectedStreamVersion: 2n,
    });
    await store.appendToStream(other, [{ type: 'ProductItemAdded', data: { productId: 'hat', quantity: 5 } }]);
    await store.appendToStream(order, [{ type: 'OrderPlaced', data: { cart, amount: 42.5 } }]);

    const handled = await processAll(store, `${arg}reactor`);

    // Appended after the processor stopped: its lag.
    const later = [1, 2, 3].map((n) => ({ type: 'ProductItemAdded', data: { productId: `late-${n}`, quantity: n } }));
    await store.appendToStream(other, later);

    const streams = {};
    for (const stream of [cart, other, order]) streams[stream] = await read(store, stream);
    console.log(json({ streams, processor: `${arg}reactor`, handled, pending: later.length }));
  } else if (command === 'write') {
    // This writer is the only one of its streams: the positions it appended are its own.
    const ids = [];
    const total = Number(count);
    const versions = [0, 0];
    for (let n = 0; n < total; n += 3) {
      const which = (n / 3) % 2;
      const stream = `${arg}-${which}`;
      const size = Math.min(3, total - n);
      const batch = Array.from({ length: size }, (_, k) => ({ type: 'Raced', data: { n: n + k } }));
      await store.appendToStream(stream, batch);
      const from = BigInt(versions[which] + 1);
      versions[which] += size;
      const { events } = await store.readStream(stream, { from, to: BigInt(versions[which]) });
      ids.push(...events.map((e) => e.metadata.messageId));
    }
    console.log(json({ ids }));
  } else if (command === 'slow') {
    await store.appendToStream(arg, [{ type: 'Slow', data: {} }]);
    console.log(json({ ids: (await store.readStream(arg)).events.map((e) => e.metadata.messageId) }));
  } else if (command === 'append') {
    const result = await store.appendToStream(arg, [{ type: 'AppendedByEmmett', data: { by: 'emmett' } }], {
      expectedStreamVersion: BigInt(count),
    });
    console.log(json({ next: result.nextExpectedStreamVersion }));
  } else if (command === 'process') {
    console.log(json({ handled: await processAll(store, arg) }));
  } else if (command === 'read') {
    console.log(json(await read(store, arg)));
  } else {
    throw new Error(`unknown command ${command}`);
  }
} finally {
  await store.close();
}
