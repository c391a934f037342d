package io.procwatch.connector;

import io.procwatch.event.ConnectorEvent;
import io.procwatch.event.EventType;
import io.procwatch.event.ProcEvent;
import io.procwatch.netlink.NetlinkSocket;
import io.procwatch.sys.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * Regenerates the golden proc connector datagrams in src/test/resources/golden (run as root):
 * {@code java --enable-native-access=ALL-UNNAMED -cp target/classes:target/test-classes
 * io.procwatch.connector.GoldenCapture src/test/resources/golden}.
 * After regenerating, update the expected values in ProcEventDecoderTest from its printout.
 */
public final class GoldenCapture {
    private GoldenCapture() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 ? args[0] : "src/test/resources/golden");
        Files.createDirectories(dir);
        Map<EventType, byte[]> found = new EnumMap<>(EventType.class);
        try (NetlinkSocket s = NetlinkSocket.open(NetlinkSocket.NETLINK_CONNECTOR,
                CnProc.CN_IDX_PROC); Arena arena = Arena.ofConfined()) {
            s.setReceiveBuffer(8 << 20);
            s.setReceiveTimeout(200);
            MemorySegment listen = ProcConnector.control(arena, s.portId(), CnProc.PROC_CN_MCAST_LISTEN, -1, 1);
            s.send(listen, listen.byteSize());
            Thread.sleep(100);
            List<Process> ps = new ArrayList<>();
            ps.add(new ProcessBuilder("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "setsid",
                    "/bin/sh", "-c", "exit 3").start());
            ps.add(new ProcessBuilder("/bin/bash", "-c", "ulimit -c 0; kill -SEGV $$").start());
            Process sleeper = new ProcessBuilder("/bin/sleep", "5").start();
            Thread.sleep(200);
            ps.add(new ProcessBuilder("gdb", "--batch", "--nx", "-p", Long.toString(sleeper.pid())).start());
            Thread t = Thread.ofPlatform().start(() -> {
                try {
                    Libc.setThreadName("golden-comm");
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            t.join();
            for (Process p : ps) {
                p.waitFor();
            }
            sleeper.destroyForcibly().waitFor();
            MemorySegment buf = arena.allocate(8192);
            ProcEventDecoder d = new ProcEventDecoder(false, -1);
            int n;
            while ((n = s.receive(buf)) != NetlinkSocket.TIMEOUT) {
                if (n < 0) {
                    continue;
                }
                byte[] bytes = buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE);
                d.decode(buf, n, (ConnectorEvent e) -> {
                    if (e instanceof ProcEvent pe) {
                        EventType type = EventType.of(pe);
                        boolean interesting = switch (pe) {
                            case ProcEvent.Exit x -> x.status().raw() == (3 << 8);
                            case ProcEvent.CommChange c -> c.comm().equals("golden-comm");
                            default -> true;
                        };
                        if (interesting && !found.containsKey(type)) {
                            found.put(type, bytes);
                            System.out.println(type + " " + pe);
                        }
                    }
                }, null);
            }
        }
        for (var e : found.entrySet()) {
            Files.write(dir.resolve(e.getKey().name().toLowerCase() + ".bin"), e.getValue());
        }
        System.out.println("wrote " + found.keySet());
    }
}
