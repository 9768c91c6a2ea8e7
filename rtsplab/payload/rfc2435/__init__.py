"""RTP payload format for JPEG (RFC 2435): what ffplay, VLC and GStreamer expect on the wire.

The lab's own payload (`rtsplab.payload.lab`) carries the JPEG file itself. RFC 2435 does
not: the sender strips the JPEG headers, keeps only the entropy-coded scan, and describes the
picture in a few header fields; the receiver rebuilds standard headers from those fields
(Appendix B) and glues the scan back on. One module a part, named by what it holds:

- `frame`: what RFC 2435 can carry, taken from a JPEG (`parse_jpeg` -> `JpegFrame`, or
  `UnsupportedJpeg` naming why not);
- `header`: the payload header of §3.1 (`JpegPayloadHeader`), its bit diagram and constants;
- `tables`: the quantization tables from Q (Appendix A), the standard Huffman tables of
  T.81 K.3, and the JPEG headers rebuilt from the payload header (Appendix B);
- `packetizer`: sending, `parse_jpeg` -> `packetize` (or `jpeg_to_payloads` for both);
- `depacketizer`: receiving, `JpegDepacketizer`, fed one RTP packet at a time like the lab's
  `rtsplab.payload.lab.LabAssembler` (both are a `rtsplab.payload.assembler.FrameAssembler`).

Nothing is re-exported here: import from the module that names the part.
"""
