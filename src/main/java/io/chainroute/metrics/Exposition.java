package io.chainroute.metrics;

/** One scrape as an HTTP answer: the format's content type and the body. */
public record Exposition(String contentType, byte[] body) {}
