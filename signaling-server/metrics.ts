/**
 * `GET /metrics`, in Prometheus's text format (prom-client): what a signaling server does,
 * for dashboards and alerts. Each server has a registry of its own (several may run in one
 * process), and the gauges read the server's live state when scraped. What the relay path
 * counts for every message goes into plain tallies, read when scraped too: a prom-client
 * `inc()` hashes its labels on every call, and a publish to 64 subscribers is 64 sends.
 */
import { Counter, Gauge, Registry } from 'prom-client'

/** What the gauges read when scraped. */
export interface LiveState {
  connections(): number
  topics(): number
  /** 1 while Redis is reachable, 0 while not; undefined without a cluster. */
  redisUp(): number | undefined
}

/** What the relay path counts, as plain numbers. */
export interface Tallies {
  /** Messages from clients, by type. */
  readonly received: Record<'subscribe' | 'unsubscribe' | 'publish' | 'ping', number>
  /** Frames sent to clients. */
  sent: number
  /** Bytes of the messages from clients (with `relay`, mostly the frames of relayed links). */
  bytesReceived: number
  /** Bytes of the frames sent to clients. */
  bytesSent: number
  /** Publishes received from the other servers of the cluster. */
  clusterIn: number
  /** Publishes sent to the other servers of the cluster. */
  clusterOut: number
}

/** The metrics of one server. */
export class ServerMetrics {
  readonly registry = new Registry()
  /** Counted on the relay path; scraped as counters. */
  readonly tally: Tallies = {
    received: { subscribe: 0, unsubscribe: 0, publish: 0, ping: 0 },
    sent: 0,
    bytesReceived: 0,
    bytesSent: 0,
    clusterIn: 0,
    clusterOut: 0,
  }
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
    const tally = this.tally
    new Counter({
      name: 'distribunator_signal_messages_received_total',
      help: 'Messages from clients',
      labelNames: ['type'],
      registers,
      collect() {
        this.reset()
        for (const [type, count] of Object.entries(tally.received)) if (count > 0) this.inc({ type }, count)
      },
    })
    new Counter({
      name: 'distribunator_signal_messages_sent_total',
      help: 'Frames sent to clients',
      registers,
      collect() {
        this.reset()
        this.inc(tally.sent)
      },
    })
    new Counter({
      name: 'distribunator_signal_bytes_total',
      help: 'Bytes of the messages from (in) and the frames to (out) clients; with --relay, mostly relayed links',
      labelNames: ['direction'],
      registers,
      collect() {
        this.reset()
        if (tally.bytesReceived > 0) this.inc({ direction: 'in' }, tally.bytesReceived)
        if (tally.bytesSent > 0) this.inc({ direction: 'out' }, tally.bytesSent)
      },
    })
    new Counter({
      name: 'distribunator_signal_cluster_publishes_total',
      help: 'Publishes to (out) and from (in) the other servers of the cluster',
      labelNames: ['direction'],
      registers,
      collect() {
        this.reset()
        if (tally.clusterIn > 0) this.inc({ direction: 'in' }, tally.clusterIn)
        if (tally.clusterOut > 0) this.inc({ direction: 'out' }, tally.clusterOut)
      },
    })
    this.dropped = new Counter({
      name: 'distribunator_signal_dropped_total',
      help: 'Sockets closed, publishes dropped and connections refused, by reason',
      labelNames: ['reason'],
      registers,
    })
  }
}
