package io.procwatch.cli;

import io.procwatch.client.ProcRow;

import java.util.List;
import java.util.function.BiFunction;

/**
 * One column procwatch can show: its ps keyword, header, width and alignment, the attribute
 * groups the daemon must send for it, its JSON key, how it prints and how it sorts.
 *
 * @param width     the column's minimum width (ps pads to it; values may be wider)
 * @param left      left-aligned (text) rather than right-aligned (numbers)
 * @param plusTrunc a user name longer than the width is cut with a '+', as procps does
 * @param text      the value as ps prints it ("-" when unknown)
 * @param value     the value for JSON and sorting: a Long, a String, or null when unknown
 * @param items     the /proc items ({@code procfs.ProcItems}) the daemon must send for it, if any
 */
public record Field(String key, String header, int width, boolean left, boolean plusTrunc, long groups,
                    String json, BiFunction<ProcRow, Fields.Ctx, String> text,
                    BiFunction<ProcRow, Fields.Ctx, Object> value, List<String> items) {

    public Field {
        items = List.copyOf(items);
    }

    public Field(String key, String header, int width, boolean left, boolean plusTrunc, long groups, String json,
                 BiFunction<ProcRow, Fields.Ctx, String> text, BiFunction<ProcRow, Fields.Ctx, Object> value) {
        this(key, header, width, left, plusTrunc, groups, json, text, value, List.of());
    }

    /** The same column under another keyword or header (ps has many aliases). */
    Field as(String alias, String newHeader) {
        return new Field(alias, newHeader, Math.max(width, left ? 0 : newHeader.length()), left, plusTrunc, groups,
                json, text, value, items);
    }

    Field withWidth(int w) {
        return new Field(key, header, w, left, plusTrunc, groups, json, text, value, items);
    }

    Field withHeader(String h) {
        return new Field(key, h, width, left, plusTrunc, groups, json, text, value, items);
    }
}
