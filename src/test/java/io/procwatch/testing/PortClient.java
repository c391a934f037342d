package io.procwatch.testing;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * An HTTP client from a chosen local port, for tests that run it as another user: reads
 * "LOCAL_PORT SERVER_PORT PATH" lines on stdin, and for each binds 127.0.0.1:LOCAL_PORT with
 * SO_REUSEADDR, sends GET PATH, and prints one line: "STATUS code body" (newlines in the body as
 * spaces), or "FAIL why" when the bind or connect did not work.
 */
public final class PortClient {
    private PortClient() {
    }

    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            String[] f = line.trim().split(" ");
            try (Socket s = new Socket()) {
                s.setReuseAddress(true);
                s.bind(new InetSocketAddress("127.0.0.1", Integer.parseInt(f[0])));
                s.connect(new InetSocketAddress("127.0.0.1", Integer.parseInt(f[1])), 5000);
                s.setSoTimeout(10_000);
                s.getOutputStream().write(("GET " + f[2] + " HTTP/1.1\r\nHost: 127.0.0.1:" + f[1]
                        + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
                s.getOutputStream().flush();
                String resp = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                String status = resp.length() > 12 ? resp.substring(9, 12) : "???";
                int body = resp.indexOf("\r\n\r\n");
                System.out.println("STATUS " + status + " " + (body < 0 ? "" : resp.substring(body + 4))
                        .replace('\n', ' ').replace('\r', ' '));
            } catch (Exception e) {
                System.out.println("FAIL " + e);
            }
            System.out.flush();
        }
    }
}
