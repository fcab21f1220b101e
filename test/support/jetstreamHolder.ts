import { jetstreamLogSchema, openJetStreamLog } from '../../src/log/jetstream/index.js';
import { silentLogger } from '../../src/ops/logger.js';

/**
 * A stand-in dispatcher process for tests: opens the JetStream log given in
 * BEACON_TEST_LOG (JSON of a `log` config), reads up to BEACON_TEST_READ events from cursor
 * BEACON_TEST_CURSOR without committing them, prints `{"held":[ids]}` on one line and then
 * waits to be killed, holding them, as a dispatcher whose sink hangs would.
 */
const config = jetstreamLogSchema.parse(JSON.parse(process.env.BEACON_TEST_LOG ?? '{}'));
const name = process.env.BEACON_TEST_CURSOR ?? 'archive';
const log = await openJetStreamLog({ config, logger: silentLogger, cursorNames: [name] });
const cursor = await log.cursor(name);
const batch = await cursor.read(Number(process.env.BEACON_TEST_READ ?? 10), 5000);
process.stdout.write(JSON.stringify({ held: batch.events.map((e) => e.id) }) + '\n');
setInterval(() => undefined, 60_000);
