/// A public door for the fuzz harnesses in Fuzz/ onto the netlink encoder, which is otherwise
/// internal. Nothing in the program calls this.
public enum NFTablesFuzzEntryPoints {
    /// Encodes `batch` to netlink bytes as `NFTConnection` would before sending it; the byte count,
    /// or the validation error that stops a batch from being sent.
    public static func encode(_ batch: NFTBatch) throws(NFTError) -> Int {
        try NetlinkBatchEncoder.encode(batch, firstSequence: 1).bytes.count
    }
}
