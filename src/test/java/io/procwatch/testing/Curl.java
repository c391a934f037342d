package io.procwatch.testing;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** HTTP GETs with the real curl, optionally as another user (a prefix such as setpriv). */
public final class Curl {
    private Curl() {
    }

    /** GET http://127.0.0.1:PORT + pathAndQuery: {status code, body}. */
    public static String[] get(List<String> prefix, int port, String pathAndQuery) throws Exception {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.addAll(List.of("curl", "-s", "-m", "30", "-w", "\n%{http_code}", "http://127.0.0.1:" + port + pathAndQuery));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(40, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("curl " + pathAndQuery + " did not finish");
        }
        int nl = out.lastIndexOf('\n');
        return new String[] {out.substring(nl + 1).trim(), out.substring(0, Math.max(0, nl))};
    }
}
