package io.procwatch.daemon;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.procwatch.json.Json;
import io.procwatch.protocol.Membership;
import io.procwatch.protocol.Selector;
import io.procwatch.store.HistoryStore;
import io.procwatch.table.ExitedProcess;
import io.procwatch.table.ProcessInfo;
import io.procwatch.table.TableEvent;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * HTTP on a loopback address: Prometheus metrics ({@code /metrics}) and a JSON API
 * ({@code /api/v1/processes}, {@code history}, {@code tree}, {@code stats}, and {@code events}, a
 * server-sent-events stream).
 *
 * <p>The permission model is the Unix socket's (see {@link HttpPeer}): a TCP peer on this machine is identified by the
 * owner of its socket (the uid column of the /proc/net/tcp line of this very connection: both ends
 * and ESTABLISHED) and sees what /proc would show that user. Peers from other machines, and
 * peers that cannot be told apart, are refused. A request whose Host header is not a loopback
 * address or localhost is refused too (421): a web page whose name was rebound to 127.0.0.1
 * (DNS rebinding) must not read the API with the browser user's identity.
 *
 * <p>It listens on a loopback address only, unless started public ({@code --http-public}): then
 * it serves {@code /metrics} alone, to anyone, and nothing per user.
 */
final class HttpApi implements AutoCloseable {
    private static final int SSE_QUEUE = 8192;
    /**
     * Ordinary requests (not event streams) served at once: all users, one user other than root,
     * and the share kept for root. Streams have their own count, so that they never use up the
     * capacity that /metrics and the API need.
     */
    static final int MAX_IN_FLIGHT = 64;
    static final int MAX_IN_FLIGHT_PER_UID = 16;
    static final int IN_FLIGHT_ROOT_RESERVE = 8;
    /** Event streams at once (all users), and per uid other than root; see {@link Limits}. */
    static final int MAX_STREAMS = 32;
    static final int MAX_STREAMS_PER_UID = 8;
    /**
     * TCP connections the listener keeps open at once (the JDK server closes any beyond, at
     * accept): with the request deadline, what bounds the daemon's descriptors for HTTP.
     */
    static final int MAX_CONNECTIONS = 1024;
    /** Idle keep-alive connections are closed after this (the JDK's default, made explicit). */
    static final int KEEP_ALIVE_IDLE_S = 30;

    private final Admission requests = new Admission(MAX_IN_FLIGHT, MAX_IN_FLIGHT_PER_UID, IN_FLIGHT_ROOT_RESERVE,
            "HTTP requests in progress", "a fixed share");
    private final Admission streams;
    /** The public listener (/metrics only, no identity): a plain count. */
    private final java.util.concurrent.Semaphore publicInFlight = new java.util.concurrent.Semaphore(MAX_IN_FLIGHT);

    private final HttpServer server;
    private final DaemonContext ctx;
    private final Metrics metrics;

    /** Listening on a non-loopback address: /metrics only, no per-user data. */
    private final boolean metricsOnly;

    private HttpApi(HttpServer server, DaemonContext ctx, boolean metricsOnly, Limits limits) {
        this.server = server;
        this.ctx = ctx;
        this.streams = new Admission(limits.httpStreams(), limits.httpStreamsPerUid(),
                Math.max(1, limits.httpStreams() / 6), "event streams", "--http-streams-per-uid");
        this.metrics = new Metrics(ctx, limits.metricsGroupCap());
        this.metricsOnly = metricsOnly;
    }

    /** Listens on a loopback host:port (e.g. 127.0.0.1:9587; port 0 picks a free one). */
    static HttpApi start(String hostPort, DaemonContext ctx) throws IOException {
        return start(hostPort, false, ctx, Limits.forClients(256));
    }

    /**
     * Listens on host:port. A host that is not a loopback address is refused unless
     * {@code allowPublic}; then only /metrics is served.
     */
    static HttpApi start(String hostPort, boolean allowPublic, DaemonContext ctx, Limits limits) throws IOException {
        int colon = hostPort.lastIndexOf(':');
        if (colon < 0) {
            throw new IOException("--http wants HOST:PORT, not '" + hostPort + "'");
        }
        String host = hostPort.substring(0, colon).replace("[", "").replace("]", "");
        int port;
        try {
            port = Integer.parseInt(hostPort.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IOException("--http wants HOST:PORT, not '" + hostPort + "'");
        }
        if (port < 0 || port > 65535) {
            throw new IOException("--http port must be 0 to 65535, not " + port);
        }
        InetAddress addr;
        try {
            addr = InetAddress.getByName(host);
        } catch (java.net.UnknownHostException e) {
            throw new IOException("--http: unknown host '" + host + "'");
        }
        boolean loopback = addr.isLoopbackAddress();
        if (!loopback && !allowPublic) {
            throw new IOException("--http " + hostPort + " is not a loopback address: the JSON API shows each local"
                    + " user's processes and identifies users by their loopback sockets, so it listens on"
                    + " 127.0.0.1, ::1 or localhost only. To serve /metrics alone (no per-user data) on "
                    + hostPort + ", add --http-public");
        }
        serverLimits(limits);
        HttpServer s = HttpServer.create(new InetSocketAddress(addr, port), 64);
        HttpApi api = new HttpApi(s, ctx, !loopback, limits);
        s.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        s.createContext("/", api::handle);
        s.start();
        return api;
    }

    /**
     * The JDK server's own limits, which it reads once, when its first server is made: a request
     * whose line and headers are not all in within the read deadline is closed (so is a
     * connection that sends nothing for that long), checked every second, and at most
     * MAX_CONNECTIONS are open. The response time stays unlimited: an event stream lasts.
     */
    private static void serverLimits(Limits limits) {
        System.setProperty("sun.net.httpserver.maxReqTime", String.valueOf(Math.max(1, limits.readTimeoutMs() / 1000)));
        System.setProperty("sun.net.httpserver.clockTick", "1000");
        System.setProperty("sun.net.httpserver.timerMillis", "1000");
        System.setProperty("sun.net.httpserver.idleInterval", String.valueOf(KEEP_ALIVE_IDLE_S));
        System.setProperty("jdk.httpserver.maxConnections", String.valueOf(MAX_CONNECTIONS));
    }

    /** The bound address (tests ask for port 0). */
    InetSocketAddress address() {
        return server.getAddress();
    }

    private void handle(HttpExchange x) {
        try (x) {
            serve(x); // the error answers below are sent before the exchange is closed
        }
    }

    /**
     * Serves one identified request within its user's share (like the Unix socket's connection
     * limit: bounded threads and buffers, and a clear answer past it): event streams count
     * against the stream limits (429), everything else against the in-flight limits (503).
     */
    private void admitted(HttpExchange x, Viewer viewer, boolean stream, Runnable serve) {
        Admission a = stream ? streams : requests;
        String why = a.admit(viewer.uid());
        if (why != null) {
            ctx.counters().httpRefused.increment();
            x.getResponseHeaders().set("Retry-After", "5");
            send(x, stream ? 429 : 503, "text/plain", why + "\n");
            return;
        }
        try {
            serve.run();
        } finally {
            a.release(viewer.uid());
        }
    }

    private void serve(HttpExchange x) {
        ctx.counters().httpRequests.increment();
        try {
            if (!x.getRequestMethod().equals("GET")) {
                send(x, 405, "text/plain", "only GET\n");
                return;
            }
            String path = x.getRequestURI().getPath();
            if (metricsOnly) {
                if (!path.equals("/metrics")) {
                    send(x, 404, "text/plain", "this listener is public (--http-public): only /metrics is served\n");
                } else if (!publicInFlight.tryAcquire()) {
                    ctx.counters().httpRefused.increment();
                    send(x, 503, "text/plain", "too many requests in progress (" + MAX_IN_FLIGHT + "); try again\n");
                } else {
                    try {
                        sendMetrics(x);
                    } finally {
                        publicInFlight.release();
                    }
                }
                return;
            }
            if (!loopbackHost(x.getRequestHeaders().getFirst("Host"))) {
                // DNS rebinding: a page from elsewhere whose name now points at 127.0.0.1
                send(x, 421, "text/plain", "the Host header must be localhost or a loopback address\n");
                return;
            }
            Viewer viewer = HttpPeer.viewerOf(x.getRemoteAddress(), x.getLocalAddress(), ctx.procMount());
            if (viewer == null) {
                send(x, 403, "text/plain", "procwatch serves this machine's users only (loopback, known socket owner)\n");
                return;
            }
            Map<String, String> q = query(x.getRequestURI().getRawQuery());
            admitted(x, viewer, path.equals("/api/v1/events"), () -> route(x, path, q, viewer));
        } catch (BadRequest e) {
            send(x, 400, "text/plain", e.getMessage() + "\n");
        } catch (IOException | java.io.UncheckedIOException e) {
            // the client went away
        } catch (RuntimeException e) {
            ctx.counters().internalErrors.increment();
            send(x, 500, "text/plain", "internal error: " + e + "\n");
        }
    }

    private void route(HttpExchange x, String path, Map<String, String> q, Viewer viewer) {
        try {
            switch (path) {
                case "/metrics" -> sendMetrics(x);
                case "/api/v1/processes" -> {
                    if (q.containsKey("at") && q.containsKey("o")) {
                        throw new BadRequest("o= is answered for the live table only, not with at");
                    } else if (q.containsKey("at")) {
                        pastProcesses(x, q, viewer);
                    } else {
                        json(x, processes(q, viewer));
                    }
                }
                case "/api/v1/history" -> history(x, q, viewer);
                case "/api/v1/tree" -> json(x, tree(q, viewer));
                case "/api/v1/stats" -> json(x, ctx.stats());
                case "/api/v1/events" -> events(x, viewer);
                default -> send(x, 404, "text/plain",
                        "not found; try /metrics, /api/v1/processes, /api/v1/history, /api/v1/tree, /api/v1/stats, /api/v1/events\n");
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private void sendMetrics(HttpExchange x) throws IOException {
        x.getResponseHeaders().set("Content-Type", metrics.contentType());
        x.sendResponseHeaders(200, 0);
        try (OutputStream out = x.getResponseBody()) {
            metrics.write(out);
        }
    }

    /**
     * Whether a Host header names this machine's loopback: localhost, 127.0.0.0/8 or [::1], with or
     * without a port. Only literal addresses count (a name is not resolved: that is what a
     * rebinding attack controls). No Host header at all (HTTP/1.0) is let through: a browser always
     * sends one, so its absence is not a page of another site, and a local program that can open
     * a socket is identified by that socket anyway.
     */
    static boolean loopbackHost(String host) {
        if (host == null) {
            return true;
        }
        String h = host.trim().toLowerCase(java.util.Locale.ROOT);
        if (h.startsWith("[")) {
            int close = h.indexOf(']');
            if (close < 0 || !validPort(h.substring(close + 1))) {
                return false;
            }
            h = h.substring(1, close);
            return h.equals("::1") || h.equals("0:0:0:0:0:0:0:1");
        }
        int colon = h.indexOf(':');
        if (colon >= 0) {
            if (!validPort(h.substring(colon))) {
                return false;
            }
            h = h.substring(0, colon);
        }
        if (h.equals("localhost") || h.equals("localhost.")) {
            return true;
        }
        String[] parts = h.split("\\.", -1);
        if (parts.length != 4 || !parts[0].equals("127")) {
            return false;
        }
        for (String p : parts) {
            if (!p.matches("\\d{1,3}") || Integer.parseInt(p) > 255) {
                return false;
            }
        }
        return true;
    }

    /** "" or ":PORT" with PORT 0 to 65535. */
    private static boolean validPort(String s) {
        if (s.isEmpty()) {
            return true;
        }
        return s.matches(":\\d{1,5}") && Integer.parseInt(s.substring(1)) <= 65535;
    }

    private static final class BadRequest extends RuntimeException {
        BadRequest(String m) {
            super(m);
        }
    }

    // ---- resources ----------------------------------------------------------------------------

    private List<Map<String, Object>> processes(Map<String, String> q, Viewer v) {
        if (q.containsKey("o")) {
            return fieldRows(q, v);
        }
        List<ProcessInfo> rows = ctx.select(selector(q), v, q.containsKey("fresh"));
        List<Map<String, Object>> out = new ArrayList<>(rows.size());
        for (ProcessInfo p : rows) {
            out.add(ApiJson.process(p, v));
        }
        return out;
    }

    /** At most this many {@code o=} fields (ps itself has about 200 names). */
    static final int MAX_FIELDS = 64;

    /**
     * {@code ?o=pid,user,rss,args} (ps's -o names): each process as {@code ps -o ... --json} prints
     * it, from the same field descriptors (cli/Field: the attribute groups and /proc items to
     * send, the JSON key, the value), through the socket's encoder and its visibility rules, so
     * a column added for ps is in the HTTP API with nothing more. Always fresh, as ps is.
     */
    private List<Map<String, Object>> fieldRows(Map<String, String> q, Viewer v) {
        List<io.procwatch.cli.Field> fields = new ArrayList<>();
        for (String name : q.get("o").split(",", -1)) {
            if (fields.size() >= MAX_FIELDS) {
                throw new BadRequest("at most " + MAX_FIELDS + " fields in o");
            }
            io.procwatch.cli.Field f = io.procwatch.cli.Fields.get(name.strip());
            if (f == null) {
                throw new BadRequest("o: unknown field '" + name + "' (the names of ps -o; procwatch ps L lists them)");
            }
            fields.add(f);
        }
        long groups = io.procwatch.cli.Fields.groupsFor(fields) | io.procwatch.protocol.Groups.CRED;
        List<String> items = io.procwatch.cli.Fields.itemsFor(fields);
        io.procwatch.cli.Fields.Ctx c = io.procwatch.cli.Fields.Ctx.current();
        List<ProcessInfo> rows = ctx.select(selector(q), v, true);
        List<Map<String, Object>> out = new ArrayList<>(rows.size());
        Encoder enc = new Encoder(ctx.proc());
        try {
            for (ProcessInfo p : rows) {
                io.procwatch.client.ProcRow r = new io.procwatch.client.ProcRow();
                enc.processInto(r, p, groups, items, v);
                Map<String, Object> m = new LinkedHashMap<>();
                for (io.procwatch.cli.Field f : fields) {
                    m.put(f.json(), f.value().apply(r, c));
                }
                out.add(m);
            }
        } finally {
            enc.close();
        }
        return out;
    }

    /**
     * {@code ?at=WHEN} (the forms of ps --at): the table then, from the journal, through the same
     * selection and visibility as the socket's SNAPSHOT with A_AT_MS. A WHEN that cannot be read
     * is a 400; an instant the journal cannot answer (a gap, before it, the future) or a daemon
     * without a journal a 409, with the reason. What the journal does not keep (exe) is left out,
     * and the command line is the exec-time one: root's and the owner's.
     */
    private void pastProcesses(HttpExchange x, Map<String, String> q, Viewer v) throws IOException {
        long atMs;
        try {
            atMs = io.procwatch.cli.Instants.parse("at", q.get("at"), System.currentTimeMillis());
        } catch (IllegalArgumentException e) {
            throw new BadRequest(e.getMessage());
        }
        if (q.containsKey("ns")) {
            throw new BadRequest("namespaces are not journaled: no ns selector with at");
        }
        List<ProcessInfo> rows;
        try {
            rows = PastTable.select(ctx, selector(q), v, atMs);
        } catch (PastTable.NoAnswer e) {
            send(x, 409, "text/plain", e.getMessage() + "\n");
            return;
        } catch (java.sql.SQLException e) {
            ctx.counters().internalErrors.increment();
            send(x, 500, "text/plain", "journal: " + e.getMessage() + "\n");
            return;
        }
        List<Map<String, Object>> out = new ArrayList<>(rows.size());
        for (ProcessInfo p : rows) {
            Map<String, Object> m = ApiJson.process(p, v);
            m.remove("exe");
            if (!PastTable.argvVisible(p, v)) {
                m.put("argv", null);
                m.put("argv_known", false);
            }
            out.add(m);
        }
        json(x, out);
    }

    /**
     * A JSON array of the gaps, then the exits newest first, written as they are read (chunked):
     * never the whole answer in memory. A database error after the first row cuts the answer
     * short (the status was sent already); the array is then not closed.
     */
    private void history(HttpExchange x, Map<String, String> q, Viewer v) throws IOException {
        if (q.containsKey("ns")) {
            throw new BadRequest("the history does not record namespaces: no ns selector for history");
        }
        HistoryQuery hq = new HistoryQuery(selector(q), number(q, "since_ms", 0, 0, Long.MAX_VALUE),
                number(q, "until_ms", Long.MAX_VALUE, 0, Long.MAX_VALUE), q.containsKey("failed"),
                (int) Math.min(Connection.MAX_ROWS_PER_REPLY, number(q, "limit", 1000, 0, Long.MAX_VALUE)));
        List<HistoryStore.Gap> gaps;
        try {
            gaps = hq.gaps(ctx);
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException("history database: " + e.getMessage(), e);
        }
        x.getResponseHeaders().set("Content-Type", "application/json");
        x.sendResponseHeaders(200, 0);
        try (OutputStream out = new java.io.BufferedOutputStream(x.getResponseBody(), 65536)) {
            boolean[] first = {true};
            HistoryQuery.Sink element = e -> element(out, first, ApiJson.exited(e, v));
            out.write('[');
            for (HistoryStore.Gap g : gaps) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("type", "gap");
                m.put("from_ms", g.fromMs());
                m.put("until_ms", g.untilMs());
                m.put("clean_stop", g.cleanStop());
                element(out, first, m);
            }
            try {
                hq.forEach(ctx, v, false, element);
            } catch (java.sql.SQLException e) {
                ctx.counters().internalErrors.increment();
                return; // an unclosed array: the client sees that the answer is incomplete
            }
            out.write("]\n".getBytes(StandardCharsets.UTF_8));
        }
    }

    private static void element(OutputStream out, boolean[] first, Map<String, Object> m) throws IOException {
        if (!first[0]) {
            out.write(',');
        }
        first[0] = false;
        out.write(Json.value(m).getBytes(StandardCharsets.UTF_8));
    }

    private Object tree(Map<String, String> q, Viewer v) {
        List<ProcessInfo> all = ctx.query().select(Selector.all(), v);
        Map<Integer, List<ProcessInfo>> children = new HashMap<>();
        Map<Integer, ProcessInfo> byPid = new HashMap<>();
        for (ProcessInfo p : all) {
            byPid.put(p.pid(), p);
        }
        List<ProcessInfo> roots = new ArrayList<>();
        for (ProcessInfo p : all) {
            if (byPid.containsKey(p.ppid()) && p.ppid() != p.pid()) {
                children.computeIfAbsent(p.ppid(), k -> new ArrayList<>()).add(p);
            } else {
                roots.add(p);
            }
        }
        if (q.containsKey("pid")) {
            ProcessInfo root = byPid.get((int) number(q, "pid", 1, 1, Integer.MAX_VALUE));
            if (root == null) {
                throw new BadRequest("no such process: " + q.get("pid"));
            }
            return ApiJson.node(root, children, 0);
        }
        List<Object> out = new ArrayList<>();
        roots.sort(java.util.Comparator.comparingInt(ProcessInfo::pid));
        for (ProcessInfo r : roots) {
            out.add(ApiJson.node(r, children, 0));
        }
        return out;
    }

    /** Server-sent events: one "event: KIND / data: JSON" per process event, until the client leaves. */
    private void events(HttpExchange x, Viewer v) throws IOException {
        BlockingQueue<TableEvent> queue = new ArrayBlockingQueue<>(SSE_QUEUE);
        AtomicLong dropped = new AtomicLong();
        Consumer<TableEvent> listener = ev -> {
            if (!queue.offer(ev)) {
                dropped.incrementAndGet();
            }
        };
        x.getResponseHeaders().set("Content-Type", "text/event-stream");
        x.getResponseHeaders().set("Cache-Control", "no-cache");
        x.sendResponseHeaders(200, 0);
        ctx.table().addListener(listener);
        ctx.counters().subscribers.incrementAndGet();
        try (OutputStream out = x.getResponseBody()) {
            out.write(": procwatch events\n\n".getBytes(StandardCharsets.UTF_8));
            out.flush();
            long lastWrite = System.nanoTime();
            while (true) {
                TableEvent ev = queue.poll(1, TimeUnit.SECONDS);
                long lost = dropped.getAndSet(0);
                StringBuilder sb = new StringBuilder();
                if (lost > 0) {
                    sb.append("event: loss\ndata: {\"lost\":").append(lost).append("}\n\n");
                }
                while (ev != null) {
                    Map<String, Object> m = ApiJson.event(ev, v);
                    if (m != null) {
                        sb.append("event: ").append(m.get("event")).append("\ndata: ").append(Json.value(m)).append("\n\n");
                    }
                    ev = queue.poll();
                }
                if (sb.isEmpty() && System.nanoTime() - lastWrite > 5_000_000_000L) {
                    // also finds out that a client has gone: a stream held by nobody is released
                    // within 5 s, not left counting against its user's share of streams
                    sb.append(": keep-alive\n\n");
                }
                if (!sb.isEmpty()) {
                    out.write(sb.toString().getBytes(StandardCharsets.UTF_8));
                    out.flush();
                    lastWrite = System.nanoTime();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            ctx.table().removeListener(listener);
            ctx.counters().subscribers.decrementAndGet();
        }
    }

    // ---- plumbing -----------------------------------------------------------------------------

    private static Selector selector(Map<String, String> q) {
        Selector s = Selector.all();
        if (q.containsKey("pid")) {
            List<Integer> pids = new ArrayList<>();
            for (String p : q.get("pid").split(",")) {
                pids.add((int) parse("pid", p, 1, Integer.MAX_VALUE));
            }
            s = s.withPids(pids);
        }
        if (q.containsKey("uid")) {
            s = s.withUids(List.of((int) parse("uid", q.get("uid"), 0, PeerIdentity.UID_MAX)));
        }
        if (q.containsKey("name")) {
            s = s.withName(q.get("name"));
        }
        if (q.containsKey("state")) {
            s = s.withStates(q.get("state"));
        }
        Membership m = membership(q);
        s = m.isAny() ? s : s.withMember(m);
        List<String> ns = namespaces(q);
        return ns.isEmpty() ? s : s.withNamespaces(ns);
    }

    /**
     * {@code ns=TYPE:INODE} (comma-separated; protocol.Namespaces: {@code net:4026531840},
     * {@code netns:...}, readlink's {@code net:[...]}), the socket's S_NAMESPACE: one type's values
     * are alternatives, types must all hold; tested only on processes the viewer may read the
     * namespaces of (Viewer.canTestNamespaces, in the query engine).
     */
    static List<String> namespaces(Map<String, String> q) {
        if (!q.containsKey("ns")) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        for (String v : q.get("ns").split(",", -1)) {
            if (out.size() >= io.procwatch.protocol.Namespaces.MAX_VALUES) {
                throw new BadRequest("at most " + io.procwatch.protocol.Namespaces.MAX_VALUES + " ns values");
            }
            if (v.isEmpty()) {
                throw new BadRequest("ns needs a value (comma-separated TYPE:INODE, none empty)");
            }
            try {
                out.add(io.procwatch.protocol.Namespaces.normalize(v));
            } catch (IllegalArgumentException e) {
                throw new BadRequest("ns: " + e.getMessage());
            }
        }
        return out;
    }

    /**
     * {@code cgroup=PATH}, {@code container=ID}, {@code unit=NAME} (comma-separated alternatives),
     * with the protocol's limits: matched by cgroup.CgroupMatch in the query engine, as the socket's
     * S_CGROUP, S_CONTAINER and S_UNIT are.
     */
    static Membership membership(Map<String, String> q) {
        Map<String, List<String>> kinds = new java.util.LinkedHashMap<>();
        for (String kind : List.of("cgroup", "container", "unit")) {
            List<String> values = new ArrayList<>();
            if (q.containsKey(kind)) {
                for (String v : q.get(kind).split(",", -1)) {
                    if (v.isEmpty()) {
                        throw new BadRequest(kind + " needs a value (comma-separated values, none empty)");
                    }
                    if (v.length() > Membership.MAX_LENGTH) {
                        throw new BadRequest(kind + " values are at most " + Membership.MAX_LENGTH + " characters");
                    }
                    if (kind.equals("cgroup") && !v.startsWith("/")) {
                        throw new BadRequest("cgroup takes a path from / (as /proc/PID/cgroup shows it), not '" + v + "'");
                    }
                    if (v.indexOf('\0') >= 0) {
                        throw new BadRequest(kind + " values hold no NUL");
                    }
                    values.add(kind.equals("cgroup") && v.length() > 1 && v.endsWith("/") ? v.substring(0, v.length() - 1) : v);
                }
                if (values.size() > Membership.MAX_VALUES) {
                    throw new BadRequest("at most " + Membership.MAX_VALUES + " " + kind + " values, not " + values.size());
                }
            }
            kinds.put(kind, values);
        }
        return new Membership(kinds.get("cgroup"), kinds.get("container"), kinds.get("unit"));
    }

    private static long number(Map<String, String> q, String key, long dflt, long min, long max) {
        return q.containsKey(key) ? parse(key, q.get(key), min, max) : dflt;
    }

    /** A query number in [min, max]: a 400 otherwise, never truncated by a cast. */
    private static long parse(String key, String v, long min, long max) {
        long n;
        try {
            n = Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            throw new BadRequest(key + " must be a number from " + min + " to " + max + ", not '" + v + "'");
        }
        if (n < min || n > max) {
            throw new BadRequest(key + " must be a number from " + min + " to " + max + ", not " + n);
        }
        return n;
    }

    private static Map<String, String> query(String raw) {
        Map<String, String> m = new HashMap<>();
        if (raw == null || raw.isEmpty()) {
            return m;
        }
        for (String kv : raw.split("&")) {
            int eq = kv.indexOf('=');
            try {
                String k = URLDecoder.decode(eq < 0 ? kv : kv.substring(0, eq), StandardCharsets.UTF_8);
                String v = eq < 0 ? "" : URLDecoder.decode(kv.substring(eq + 1), StandardCharsets.UTF_8);
                m.put(k, v);
            } catch (IllegalArgumentException e) {
                throw new BadRequest("malformed query string: " + e.getMessage());
            }
        }
        return m;
    }

    private static void json(HttpExchange x, Object body) throws IOException {
        send(x, 200, "application/json", Json.value(body) + "\n");
    }

    private static void send(HttpExchange x, int code, String type, String body) {
        try {
            byte[] b = body.getBytes(StandardCharsets.UTF_8);
            x.getResponseHeaders().set("Content-Type", type);
            x.sendResponseHeaders(code, b.length);
            try (OutputStream out = x.getResponseBody()) {
                out.write(b);
            }
        } catch (IOException ignored) {
            // the client went away
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
