import Foundation

// Codable through `JSONValue`, so typed values take the package's one JSON codec too, and a
// value already parsed (an RPC answer, a stored request) decodes without being written and read
// again. The output is what Foundation's `JSONEncoder` writes with its default strategies (dates
// as seconds since 2001, `Data` as base64, URLs as strings), so stored rows and mixed-version
// peers read the same.

extension JSONCodec {
    /// A `T` from a parsed value.
    public static func decode<T: Decodable>(_ type: T.Type, from json: JSONValue) throws -> T {
        if let value = json as? T { return value }
        return try ValueDecoder(json, codingPath: []).decodeValue(T.self)
    }

    /// A `T` from JSON bytes.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        try decode(type, from: try parse(data))
    }

    /// A value as `JSONValue`.
    public static func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        if let json = value as? JSONValue { return json }
        return try ValueEncoder.encodeValue(value, codingPath: [])
    }

    /// A value as compact JSON bytes with sorted keys.
    public static func encodedData<T: Encodable>(_ value: T) throws -> Data {
        data(try encode(value))
    }
}

// MARK: - Decoding

private struct ValueDecoder: Decoder {
    let value: JSONValue
    let codingPath: [CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(_ value: JSONValue, codingPath: [CodingKey]) { self.value = value; self.codingPath = codingPath }

    func decodeValue<T: Decodable>(_ type: T.Type) throws -> T {
        if let value = value as? T { return value }
        if T.self == Date.self { return Date(timeIntervalSinceReferenceDate: try number(Double.self)) as! T }
        if T.self == Data.self {
            guard case .string(let s) = value, let d = Data(base64Encoded: s) else { throw mismatch("base64 string") }
            return d as! T
        }
        if T.self == URL.self {
            guard case .string(let s) = value, let u = URL(string: s) else { throw mismatch("URL string") }
            return u as! T
        }
        return try T(from: self)
    }

    func mismatch(_ expected: String) -> DecodingError {
        .typeMismatch(Any.self, .init(codingPath: codingPath, debugDescription: "expected \(expected), found \(value.typeName)"))
    }

    func number<N: BinaryFloatingPoint>(_: N.Type) throws -> N {
        guard case .number(let n) = value else { throw mismatch("number") }
        return N(n)
    }

    func integer<N: FixedWidthInteger>(_: N.Type) throws -> N {
        guard case .number(let n) = value else { throw mismatch("number") }
        guard n.rounded() == n, let i = N(exactly: n) else {
            throw DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "number \(n) does not fit in \(N.self)"))
        }
        return i
    }

    func container<Key: CodingKey>(keyedBy _: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let o) = value else { throw mismatch("object") }
        return KeyedDecodingContainer(KeyedValueDecoding<Key>(object: o, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> UnkeyedDecodingContainer {
        guard case .array(let a) = value else { throw mismatch("array") }
        return UnkeyedValueDecoding(array: a, codingPath: codingPath)
    }

    func singleValueContainer() throws -> SingleValueDecodingContainer { self }
}

extension ValueDecoder: SingleValueDecodingContainer {
    func decodeNil() -> Bool { value == .null }
    func decode(_: Bool.Type) throws -> Bool { guard case .bool(let b) = value else { throw mismatch("boolean") }; return b }
    func decode(_: String.Type) throws -> String { guard case .string(let s) = value else { throw mismatch("string") }; return s }
    func decode(_: Double.Type) throws -> Double { try number(Double.self) }
    func decode(_: Float.Type) throws -> Float { try number(Float.self) }
    func decode(_: Int.Type) throws -> Int { try integer(Int.self) }
    func decode(_: Int8.Type) throws -> Int8 { try integer(Int8.self) }
    func decode(_: Int16.Type) throws -> Int16 { try integer(Int16.self) }
    func decode(_: Int32.Type) throws -> Int32 { try integer(Int32.self) }
    func decode(_: Int64.Type) throws -> Int64 { try integer(Int64.self) }
    func decode(_: UInt.Type) throws -> UInt { try integer(UInt.self) }
    func decode(_: UInt8.Type) throws -> UInt8 { try integer(UInt8.self) }
    func decode(_: UInt16.Type) throws -> UInt16 { try integer(UInt16.self) }
    func decode(_: UInt32.Type) throws -> UInt32 { try integer(UInt32.self) }
    func decode(_: UInt64.Type) throws -> UInt64 { try integer(UInt64.self) }
    func decode<T: Decodable>(_: T.Type) throws -> T { try decodeValue(T.self) }
}

private struct KeyedValueDecoding<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let object: [String: JSONValue]
    let codingPath: [CodingKey]
    var allKeys: [Key] { object.keys.compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool { object[key.stringValue] != nil }

    func child(_ key: Key) throws -> ValueDecoder {
        guard let v = object[key.stringValue] else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "no value for key \"\(key.stringValue)\""))
        }
        return ValueDecoder(v, codingPath: codingPath + [key])
    }

    func decodeNil(forKey key: Key) throws -> Bool { try child(key).decodeNil() }
    func decode(_: Bool.Type, forKey key: Key) throws -> Bool { try child(key).decode(Bool.self) }
    func decode(_: String.Type, forKey key: Key) throws -> String { try child(key).decode(String.self) }
    func decode(_: Double.Type, forKey key: Key) throws -> Double { try child(key).decode(Double.self) }
    func decode(_: Float.Type, forKey key: Key) throws -> Float { try child(key).decode(Float.self) }
    func decode(_: Int.Type, forKey key: Key) throws -> Int { try child(key).decode(Int.self) }
    func decode(_: Int8.Type, forKey key: Key) throws -> Int8 { try child(key).decode(Int8.self) }
    func decode(_: Int16.Type, forKey key: Key) throws -> Int16 { try child(key).decode(Int16.self) }
    func decode(_: Int32.Type, forKey key: Key) throws -> Int32 { try child(key).decode(Int32.self) }
    func decode(_: Int64.Type, forKey key: Key) throws -> Int64 { try child(key).decode(Int64.self) }
    func decode(_: UInt.Type, forKey key: Key) throws -> UInt { try child(key).decode(UInt.self) }
    func decode(_: UInt8.Type, forKey key: Key) throws -> UInt8 { try child(key).decode(UInt8.self) }
    func decode(_: UInt16.Type, forKey key: Key) throws -> UInt16 { try child(key).decode(UInt16.self) }
    func decode(_: UInt32.Type, forKey key: Key) throws -> UInt32 { try child(key).decode(UInt32.self) }
    func decode(_: UInt64.Type, forKey key: Key) throws -> UInt64 { try child(key).decode(UInt64.self) }
    func decode<T: Decodable>(_: T.Type, forKey key: Key) throws -> T { try child(key).decodeValue(T.self) }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try child(key).container(keyedBy: type)
    }
    func nestedUnkeyedContainer(forKey key: Key) throws -> UnkeyedDecodingContainer { try child(key).unkeyedContainer() }
    func superDecoder() throws -> Decoder {
        ValueDecoder(object["super"] ?? .null, codingPath: codingPath + [PlainKey("super")])
    }
    func superDecoder(forKey key: Key) throws -> Decoder { ValueDecoder(object[key.stringValue] ?? .null, codingPath: codingPath + [key]) }
}

private struct UnkeyedValueDecoding: UnkeyedDecodingContainer {
    let array: [JSONValue]
    let codingPath: [CodingKey]
    var currentIndex = 0
    var count: Int? { array.count }
    var isAtEnd: Bool { currentIndex >= array.count }

    init(array: [JSONValue], codingPath: [CodingKey]) { self.array = array; self.codingPath = codingPath }

    mutating func next() throws -> ValueDecoder {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(Any.self, .init(codingPath: codingPath + [PlainKey(index: currentIndex)], debugDescription: "the array has no more elements"))
        }
        defer { currentIndex += 1 }
        return ValueDecoder(array[currentIndex], codingPath: codingPath + [PlainKey(index: currentIndex)])
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, array[currentIndex] == .null else { return false }
        currentIndex += 1
        return true
    }
    mutating func decode(_: Bool.Type) throws -> Bool { try next().decode(Bool.self) }
    mutating func decode(_: String.Type) throws -> String { try next().decode(String.self) }
    mutating func decode(_: Double.Type) throws -> Double { try next().decode(Double.self) }
    mutating func decode(_: Float.Type) throws -> Float { try next().decode(Float.self) }
    mutating func decode(_: Int.Type) throws -> Int { try next().decode(Int.self) }
    mutating func decode(_: Int8.Type) throws -> Int8 { try next().decode(Int8.self) }
    mutating func decode(_: Int16.Type) throws -> Int16 { try next().decode(Int16.self) }
    mutating func decode(_: Int32.Type) throws -> Int32 { try next().decode(Int32.self) }
    mutating func decode(_: Int64.Type) throws -> Int64 { try next().decode(Int64.self) }
    mutating func decode(_: UInt.Type) throws -> UInt { try next().decode(UInt.self) }
    mutating func decode(_: UInt8.Type) throws -> UInt8 { try next().decode(UInt8.self) }
    mutating func decode(_: UInt16.Type) throws -> UInt16 { try next().decode(UInt16.self) }
    mutating func decode(_: UInt32.Type) throws -> UInt32 { try next().decode(UInt32.self) }
    mutating func decode(_: UInt64.Type) throws -> UInt64 { try next().decode(UInt64.self) }
    mutating func decode<T: Decodable>(_: T.Type) throws -> T { try next().decodeValue(T.self) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try next().container(keyedBy: type)
    }
    mutating func nestedUnkeyedContainer() throws -> UnkeyedDecodingContainer { try next().unkeyedContainer() }
    mutating func superDecoder() throws -> Decoder { try next() }
}

private struct PlainKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(_ s: String) { stringValue = s }
    init(index: Int) { stringValue = "\(index)"; intValue = index }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { stringValue = "\(intValue)"; self.intValue = intValue }
}

// MARK: - Encoding

/// A value being built: containers hand out references to it, as `Encoder` requires.
private final class EncodingSlot {
    enum Content { case empty, value(JSONValue), object([String: EncodingSlot]), array([EncodingSlot]) }
    var content: Content = .empty

    var json: JSONValue {
        switch content {
        case .empty: .object([:])
        case .value(let v): v
        case .object(let o): .object(o.mapValues(\.json))
        case .array(let a): .array(a.map(\.json))
        }
    }

    func object() -> EncodingSlot {
        if case .object = content {} else { content = .object([:]) }
        return self
    }

    func child(_ key: String) -> EncodingSlot {
        guard case .object(var o) = content else { content = .object([:]); return child(key) }
        if let existing = o[key] { return existing }
        let slot = EncodingSlot()
        o[key] = slot
        content = .object(o)
        return slot
    }

    func append() -> EncodingSlot {
        var a: [EncodingSlot] = []
        if case .array(let existing) = content { a = existing }
        let slot = EncodingSlot()
        a.append(slot)
        content = .array(a)
        return slot
    }

    var arrayCount: Int { if case .array(let a) = content { a.count } else { 0 } }
}

private struct ValueEncoder: Encoder {
    let slot: EncodingSlot
    let codingPath: [CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    static func encodeValue<T: Encodable>(_ value: T, codingPath: [CodingKey]) throws -> JSONValue {
        let slot = EncodingSlot()
        try ValueEncoder(slot: slot, codingPath: codingPath).encodeValue(value)
        return slot.json
    }

    func encodeValue<T: Encodable>(_ value: T) throws {
        switch value {
        case let json as JSONValue: slot.content = .value(json)
        case let date as Date: slot.content = .value(.number(date.timeIntervalSinceReferenceDate))
        case let data as Data: slot.content = .value(.string(data.base64EncodedString()))
        case let url as URL: slot.content = .value(.string(url.absoluteString))
        default: try value.encode(to: self)
        }
    }

    func container<Key: CodingKey>(keyedBy _: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(KeyedValueEncoding<Key>(slot: slot.object(), codingPath: codingPath))
    }

    func unkeyedContainer() -> UnkeyedEncodingContainer {
        if case .array = slot.content {} else { slot.content = .array([]) }
        return UnkeyedValueEncoding(slot: slot, codingPath: codingPath)
    }

    func singleValueContainer() -> SingleValueEncodingContainer { self }
}

extension ValueEncoder: SingleValueEncodingContainer {
    func put(_ v: JSONValue) { slot.content = .value(v) }
    func number<N: BinaryInteger>(_ n: N) throws {
        guard let d = Double(exactly: n) else {
            throw EncodingError.invalidValue(n, .init(codingPath: codingPath, debugDescription: "\(n) cannot be written exactly as a JSON number"))
        }
        put(.number(d))
    }
    func float(_ d: Double) throws {
        guard d.isFinite else { throw EncodingError.invalidValue(d, .init(codingPath: codingPath, debugDescription: "JSON has no \(d)")) }
        put(.number(d))
    }
    func encodeNil() throws { put(.null) }
    func encode(_ v: Bool) throws { put(.bool(v)) }
    func encode(_ v: String) throws { put(.string(v)) }
    func encode(_ v: Double) throws { try float(v) }
    func encode(_ v: Float) throws { try float(Double(v)) }
    func encode(_ v: Int) throws { try number(v) }
    func encode(_ v: Int8) throws { try number(v) }
    func encode(_ v: Int16) throws { try number(v) }
    func encode(_ v: Int32) throws { try number(v) }
    func encode(_ v: Int64) throws { try number(v) }
    func encode(_ v: UInt) throws { try number(v) }
    func encode(_ v: UInt8) throws { try number(v) }
    func encode(_ v: UInt16) throws { try number(v) }
    func encode(_ v: UInt32) throws { try number(v) }
    func encode(_ v: UInt64) throws { try number(v) }
    func encode<T: Encodable>(_ v: T) throws { try encodeValue(v) }
}

private struct KeyedValueEncoding<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let slot: EncodingSlot
    let codingPath: [CodingKey]

    func encoder(_ key: Key) -> ValueEncoder { ValueEncoder(slot: slot.child(key.stringValue), codingPath: codingPath + [key]) }

    mutating func encodeNil(forKey key: Key) throws { try encoder(key).encodeNil() }
    mutating func encode(_ v: Bool, forKey key: Key) throws { try encoder(key).encode(v) }
    mutating func encode(_ v: String, forKey key: Key) throws { try encoder(key).encode(v) }
    mutating func encode(_ v: Double, forKey key: Key) throws { try encoder(key).encode(v) }
    mutating func encode(_ v: Float, forKey key: Key) throws { try encoder(key).encode(v) }
    mutating func encode(_ v: Int, forKey key: Key) throws { try encoder(key).encode(v) }
    mutating func encode(_ v: Int8, forKey key: Key) throws { try encoder(key).encode(v) }
    mutating func encode(_ v: Int16, forKey key: Key) throws { try encoder(key).encode(v) }
    mutating func encode(_ v: Int32, forKey key: Key) throws { try encoder(key).encode(v) }
    mutating func encode(_ v: Int64, forKey key: Key) throws { try encoder(key).encode(v) }
    mutating func encode(_ v: UInt, forKey key: Key) throws { try encoder(key).encode(v) }
    mutating func encode(_ v: UInt8, forKey key: Key) throws { try encoder(key).encode(v) }
    mutating func encode(_ v: UInt16, forKey key: Key) throws { try encoder(key).encode(v) }
    mutating func encode(_ v: UInt32, forKey key: Key) throws { try encoder(key).encode(v) }
    mutating func encode(_ v: UInt64, forKey key: Key) throws { try encoder(key).encode(v) }
    mutating func encode<T: Encodable>(_ v: T, forKey key: Key) throws { try encoder(key).encodeValue(v) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        encoder(key).container(keyedBy: type)
    }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> UnkeyedEncodingContainer { encoder(key).unkeyedContainer() }
    mutating func superEncoder() -> Encoder { ValueEncoder(slot: slot.child("super"), codingPath: codingPath + [PlainKey("super")]) }
    mutating func superEncoder(forKey key: Key) -> Encoder { encoder(key) }
}

private struct UnkeyedValueEncoding: UnkeyedEncodingContainer {
    let slot: EncodingSlot
    let codingPath: [CodingKey]
    var count: Int { slot.arrayCount }

    func encoder() -> ValueEncoder { ValueEncoder(slot: slot.append(), codingPath: codingPath + [PlainKey(index: count)]) }

    mutating func encodeNil() throws { try encoder().encodeNil() }
    mutating func encode(_ v: Bool) throws { try encoder().encode(v) }
    mutating func encode(_ v: String) throws { try encoder().encode(v) }
    mutating func encode(_ v: Double) throws { try encoder().encode(v) }
    mutating func encode(_ v: Float) throws { try encoder().encode(v) }
    mutating func encode(_ v: Int) throws { try encoder().encode(v) }
    mutating func encode(_ v: Int8) throws { try encoder().encode(v) }
    mutating func encode(_ v: Int16) throws { try encoder().encode(v) }
    mutating func encode(_ v: Int32) throws { try encoder().encode(v) }
    mutating func encode(_ v: Int64) throws { try encoder().encode(v) }
    mutating func encode(_ v: UInt) throws { try encoder().encode(v) }
    mutating func encode(_ v: UInt8) throws { try encoder().encode(v) }
    mutating func encode(_ v: UInt16) throws { try encoder().encode(v) }
    mutating func encode(_ v: UInt32) throws { try encoder().encode(v) }
    mutating func encode(_ v: UInt64) throws { try encoder().encode(v) }
    mutating func encode<T: Encodable>(_ v: T) throws { try encoder().encodeValue(v) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        encoder().container(keyedBy: type)
    }
    mutating func nestedUnkeyedContainer() -> UnkeyedEncodingContainer { encoder().unkeyedContainer() }
    mutating func superEncoder() -> Encoder { encoder() }
}
