import NIOCore
import NIOFoundationCompat

/// Splits a TCP stream into newline-terminated frames (the newline is dropped). A frame
/// longer than `maximumLength` closes the connection instead of growing memory without bound.
public struct LineFrameDecoder: ByteToMessageDecoder, Sendable {
    public typealias InboundOut = ByteBuffer
    public let maximumLength: Int
    private var scanned = 0

    public init(maximumLength: Int = 8 * 1024 * 1024) { self.maximumLength = maximumLength }

    public struct FrameTooLong: Error, CustomStringConvertible {
        public let limit: Int
        public var description: String { "frame longer than \(limit) bytes" }
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let view = buffer.readableBytesView
        if let nl = view.dropFirst(scanned).firstIndex(of: UInt8(ascii: "\n")) {
            let length = nl - view.startIndex
            let frame = buffer.readSlice(length: length)!
            buffer.moveReaderIndex(forwardBy: 1)
            scanned = 0
            context.fireChannelRead(Self.wrapInboundOut(frame))
            return .continue
        }
        scanned = view.count
        if scanned > maximumLength { throw FrameTooLong(limit: maximumLength) }
        return .needMoreData
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}
