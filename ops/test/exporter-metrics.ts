/**
 * Metrics the dashboards and alerts read that no Sluice process serves: they come from
 * the exporters docker-compose.yml runs (and `up` from Prometheus itself). Each is listed
 * with where it comes from, so a name here is a decision, not a way around the check.
 * The check (dashboards.test.ts) refuses any sluice_*, nodejs_* or process_* name here.
 */
export const EXPORTER_METRICS: Record<string, string> = {
  // Prometheus: one per scrape target, 1 when the scrape succeeded.
  up: 'prometheus',

  // prometheus-nats-exporter 0.15 (`-varz -connz -jsz=all`): /varz fields as gnatsd_varz_<field>,
  // /jsz as jetstream_{server,stream,consumer}_* (collector/jsz.go).
  gnatsd_varz_in_msgs: 'nats-exporter -varz: messages received by the server',
  gnatsd_varz_out_msgs: 'nats-exporter -varz: messages sent by the server',
  gnatsd_varz_connections: 'nats-exporter -varz: client connections',
  gnatsd_varz_slow_consumers: 'nats-exporter -varz: clients dropped for falling behind',
  jetstream_stream_total_messages: 'nats-exporter -jsz: messages held per stream (stream_name)',
  jetstream_stream_total_bytes: 'nats-exporter -jsz: bytes held per stream (stream_name)',
  jetstream_server_max_storage: 'nats-exporter -jsz: the server’s JetStream storage limit',

  // postgres_exporter 0.15 default collectors: pg_stat_database_<column> per datname
  // (collector/pg_stat_database.go), pg_database_size_bytes (collector/pg_database.go), pg_up.
  pg_up: 'postgres-exporter: 1 when it could connect',
  pg_stat_database_xact_commit: 'postgres-exporter stat_database: commits',
  pg_stat_database_tup_inserted: 'postgres-exporter stat_database: rows inserted',
  pg_stat_database_numbackends: 'postgres-exporter stat_database: backends connected',
  pg_stat_database_deadlocks: 'postgres-exporter stat_database: deadlocks detected',
  pg_database_size_bytes: 'postgres-exporter database: size on disk',
}
