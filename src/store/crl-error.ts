/** ST9: a CRL whose number is not above the stored one is refused; the number never goes down. */
export class CrlNotGrowingError extends Error {
  override readonly name = "CrlNotGrowingError";
}
