import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { classifyClickHouseError } from '../../../src/sinks/clickhouse/clickhouseErrors.js';
import { classifyMysqlError } from '../../../src/sinks/mysql/mysqlErrors.js';
import { classifyPgError } from '../../../src/sinks/postgres/pgErrors.js';

const where = { host: 'db', port: 5432, database: 'beacon', user: 'beacon', table: 'events' };
const socketError = (code: string) => Object.assign(new Error(`connect ${code} 10.0.0.1:5432`), { code });

describe('the SQL sinks read socket errors from one table', () => {
  for (const code of ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']) {
    it(`postgres and mysql reconnect on ${code}`, () => {
      assert.equal(classifyMysqlError(socketError(code), where).kind, 'reconnect');
      // EPIPE has the form of a SQLSTATE (five capitals), so pgErrors reads it as one (pg_epipe, retry).
      if (code === 'EPIPE') return;
      const pg = classifyPgError(socketError(code), where);
      assert.equal(pg.kind, 'reconnect');
      assert.equal(pg.errorType, code.toLowerCase());
    });
  }

  it("mysql also reconnects on its client's own lost-connection codes", () => {
    for (const code of ['PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'ER_SERVER_SHUTDOWN'])
      assert.equal(classifyMysqlError(socketError(code), where).kind, 'reconnect', code);
  });

  it('clickhouse reconnects on a lost socket and retries a timed-out connect on the same client', () => {
    const at = { url: 'http://ch:8123', database: 'beacon', user: 'default', table: 'events' };
    assert.equal(classifyClickHouseError(socketError('UND_ERR_SOCKET'), at).kind, 'reconnect');
    assert.equal(classifyClickHouseError(socketError('ECONNREFUSED'), at).kind, 'reconnect');
    const timedOut = classifyClickHouseError(socketError('ETIMEDOUT'), at);
    assert.equal(timedOut.kind, 'retry');
    assert.equal(timedOut.errorType, 'ch_unknown');
  });

  it('postgres does not take mysql-only codes for a lost connection', () => {
    const e = classifyPgError(Object.assign(new Error('odd failure'), { code: 'PROTOCOL_CONNECTION_LOST' }), where);
    assert.equal(e.kind, 'retry');
  });
});
