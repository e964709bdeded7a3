/**
 * `GET /metrics`, in Prometheus's text format (prom-client): what a signaling server does,
 * for dashboards and alerts. Each server has a registry of its own (several may run in one
 * process), and the gauges read the server's live state when scraped.
 */
import { Counter, Gauge, Registry } from 'prom-client'

/** What the gauges read when scraped. */
export interface LiveState {
  connections(): number
  topics(): number
  /** 1 while Redis is reachable, 0 while not; undefined without a cluster. */
  redisUp(): number | undefined
}

/** The metrics of one server. */
export class ServerMetrics {
  readonly registry = new Registry()
  /** Messages from clients, by type. */
  readonly received: Counter<'type'>
  /** Frames sent to clients. */
  readonly sent: Counter
  /** Publishes sent to (out) or received from (in) the other servers of the cluster. */
  readonly cluster: Counter<'direction'>
  /** Sockets closed, publishes dropped and upgrades refused, by reason. */
  readonly dropped: Counter<'reason'>

  constructor(live: LiveState) {
    const registers = [this.registry]
    new Gauge({
      name: 'distribunator_signal_connections',
      help: 'Open WebSocket connections',
      registers,
      collect() {
        this.set(live.connections())
      },
    })
    new Gauge({
      name: 'distribunator_signal_topics',
      help: 'Topics (rooms) with at least one subscriber on this server',
      registers,
      collect() {
        this.set(live.topics())
      },
    })
    new Gauge({
      name: 'distribunator_signal_redis_up',
      help: '1 while the cluster link to Redis is up, 0 while down (absent without a cluster)',
      registers,
      collect() {
        const up = live.redisUp()
        if (up === undefined) this.reset()
        else this.set(up)
      },
    })
    this.received = new Counter({
      name: 'distribunator_signal_messages_received_total',
      help: 'Messages from clients',
      labelNames: ['type'],
      registers,
    })
    this.sent = new Counter({ name: 'distribunator_signal_messages_sent_total', help: 'Frames sent to clients', registers })
    this.cluster = new Counter({
      name: 'distribunator_signal_cluster_publishes_total',
      help: 'Publishes to (out) and from (in) the other servers of the cluster',
      labelNames: ['direction'],
      registers,
    })
    this.dropped = new Counter({
      name: 'distribunator_signal_dropped_total',
      help: 'Sockets closed, publishes dropped and connections refused, by reason',
      labelNames: ['reason'],
      registers,
    })
  }
}
