package io.procwatch.truth;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** One ground-truth record a workload wrote: "kind TAB key=value TAB ...". */
record Truth(String kind, Map<String, String> fields) {
    static Truth parse(String line) {
        String[] parts = line.split("\t");
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 1; i < parts.length; i++) {
            int eq = parts[i].indexOf('=');
            if (eq > 0) {
                m.put(parts[i].substring(0, eq), parts[i].substring(eq + 1));
            }
        }
        return new Truth(parts[0], Map.copyOf(m));
    }

    String get(String key) {
        String v = fields.get(key);
        if (v == null) {
            throw new IllegalStateException("record " + kind + " " + fields + " has no " + key);
        }
        return v;
    }

    int integer(String key) {
        return Integer.parseInt(get(key));
    }

    long number(String key) {
        return Long.parseLong(get(key));
    }

    int pid() {
        return integer("pid");
    }

    /** The argv the workload exec'd (elements joined by 0x1f). */
    List<String> argv() {
        return Arrays.asList(get("argv").split("\u001f", -1));
    }
}
