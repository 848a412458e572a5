package io.chainroute.it;

import java.io.IOException;
import java.io.OutputStream;

/**
 * Writes to both streams: an IT keeps chainroute's log visible and a copy to search (the copy is a
 * ByteArrayOutputStream: its writes are synchronized).
 */
final class Tee extends OutputStream {
  private final OutputStream a;
  private final OutputStream b;

  Tee(OutputStream a, OutputStream b) {
    this.a = a;
    this.b = b;
  }

  @Override
  public void write(int c) throws IOException {
    a.write(c);
    b.write(c);
  }

  @Override
  public void write(byte[] buf, int off, int len) throws IOException {
    a.write(buf, off, len);
    b.write(buf, off, len);
  }
}
