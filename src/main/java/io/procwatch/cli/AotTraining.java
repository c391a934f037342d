package io.procwatch.cli;

import io.procwatch.protocol.Message;
import io.procwatch.protocol.MessageBuilder;
import io.procwatch.protocol.Wire;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The build's training run for the JDK AOT cache: drives the client's real code paths (argument
 * parsing, the socket, protocol encoding and decoding, the field registry, formatting, JSON) so
 * that the classes they need load from the cache at every later start. A small responder on a
 * temporary socket plays the daemon's part with fixed rows; nothing here is used at run time.
 */
final class AotTraining {
    private AotTraining() {
    }

    static int run(PrintStream out) {
        PrintStream sink = new PrintStream(new ByteArrayOutputStream());
        Path dir = null;
        try {
            dir = Files.createTempDirectory("procwatch-aot");
            Path sock = dir.resolve("train.sock");
            ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            server.bind(UnixDomainSocketAddress.of(sock));
            Thread responder = Thread.ofPlatform().daemon(true).start(() -> respond(server));
            String s = "--socket=" + sock;
            for (List<String> args : List.of(
                    List.of("ps", "-ef", s), List.of("ps", "aux", s), List.of("ps", "-eo", "pid,ppid,user,stat,rss,comm,args", s),
                    List.of("ps", "-e", "--forest", s), List.of("ps", "-o", "pid=", "-p", "1", s),
                    List.of("ps", "-eLf", s), List.of("ps", "-e", "--json", "--sort=-rss", s),
                    List.of("tree", s), List.of("history", s), List.of("history", "--json", s),
                    List.of("stats", s), List.of("ps", "--help"), List.of("events", "--help"))) {
                try {
                    Main.run(args, sink, sink);
                } catch (RuntimeException e) {
                    out.println("training: " + args + " failed: " + e); // shown in the build log
                }
            }
            server.close();
            responder.join(1000);
            out.println("trained");
            return 0;
        } catch (IOException | InterruptedException e) {
            out.println("training failed: " + e);
            return 1;
        } finally {
            if (dir != null) {
                try (var files = Files.list(dir)) {
                    for (Path p : files.toList()) {
                        Files.deleteIfExists(p);
                    }
                    Files.deleteIfExists(dir);
                } catch (IOException ignored) {
                    // a temp dir left behind is harmless
                }
            }
        }
    }

    private static void respond(ServerSocketChannel server) {
        while (server.isOpen()) {
            try (SocketChannel ch = server.accept()) {
                InputStream in = Channels.newInputStream(ch);
                OutputStream o = Channels.newOutputStream(ch);
                Message req;
                while ((req = Message.read(in, Wire.MAX_REQUEST)) != null) {
                    answer(req, o);
                }
            } catch (IOException e) {
                return;
            }
        }
    }

    private static void answer(Message req, OutputStream o) throws IOException {
        switch (req.type()) {
            case Wire.SNAPSHOT -> {
                for (int pid = 1; pid <= 3; pid++) {
                    new MessageBuilder().u32(Wire.P_PID, pid).u32(Wire.P_PPID, pid - 1).u32(Wire.P_PGRP, pid)
                            .u32(Wire.P_SID, pid).u32(Wire.P_TTY, 0).u32(Wire.P_TPGID, -1).u32(Wire.P_NLWP, 1)
                            .u64(Wire.P_START_MS, System.currentTimeMillis() - 5000).u8(Wire.P_STATE, 'S')
                            .string(Wire.P_COMM, "init").u32(Wire.P_RUID, 0).u32(Wire.P_EUID, 0)
                            .u32(Wire.P_RGID, 0).u32(Wire.P_EGID, 0).u32(Wire.P_TRACER, 0)
                            .strings(Wire.P_ARGV, List.of("/sbin/init", "splash")).u64(Wire.P_UTIME, 10)
                            .u64(Wire.P_STIME, 5).u64(Wire.P_VSIZE, 1 << 20).u64(Wire.P_RSS_KIB, 100)
                            .u64(Wire.P_MINFLT, 1).u64(Wire.P_MAJFLT, 0).u32(Wire.P_PRIORITY, 20)
                            .u32(Wire.P_NICE, 0).u32(Wire.P_PROCESSOR, 0)
                            .build(Wire.PROCESS, 0, req.seq()).write(o);
                }
                done(req, o, 3);
            }
            case Wire.HISTORY -> {
                new MessageBuilder().u32(Wire.P_PID, 9).u32(Wire.P_PPID, 1).u32(Wire.P_EUID, 0)
                        .string(Wire.P_COMM, "true").strings(Wire.P_ARGV, List.of("/bin/true"))
                        .u64(Wire.P_START_MS, 1000).u64(Wire.E_END_MS, 2000).u32(Wire.E_STATUS, 256)
                        .u64(Wire.P_TS_UTIME_US, 5).u64(Wire.P_TS_STIME_US, 5).u64(Wire.P_TS_MAXRSS_KIB, 900)
                        .build(Wire.EXITED, 0, req.seq()).write(o);
                done(req, o, 1);
            }
            case Wire.STATS -> new MessageBuilder().beginNested(Wire.R_STAT).string(Wire.R_STAT_NAME, "processes")
                    .u64(Wire.R_STAT_VALUE, 3).endNested().build(Wire.STATS_REPLY, 0, req.seq()).write(o);
            default -> new MessageBuilder().u32(Wire.R_ERROR_CODE, Wire.E_UNKNOWN_REQUEST)
                    .string(Wire.R_ERROR_TEXT, "training").build(Wire.ERROR, 0, req.seq()).write(o);
        }
        o.flush();
    }

    private static void done(Message req, OutputStream o, int n) throws IOException {
        new MessageBuilder().u32(Wire.R_COUNT, n).u64(Wire.R_TIME_MS, System.currentTimeMillis())
                .u64(Wire.R_SAMPLE_AGE_MS, 0).build(Wire.DONE, 0, req.seq()).write(o);
    }
}
