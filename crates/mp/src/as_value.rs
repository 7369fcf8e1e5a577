//! [`AsValue`]: how the shared collections take owned or borrowed values.

/// A value given owned (`x`) or borrowed (`&x`): what [`crate::Queue::put`],
/// [`crate::DictProxy::insert`] and the other "send this value" methods take, so both
/// `q.put(x)` and `q.put(&x)` work. (Only these two: a third impl would leave
/// `d.insert(&"k".into(), &1)` with more than one way to infer, and such calls exist.)
pub trait AsValue<T> {
    /// The value, borrowed.
    fn as_value(&self) -> &T;
}

impl<T> AsValue<T> for T {
    fn as_value(&self) -> &T {
        self
    }
}

impl<T> AsValue<T> for &T {
    fn as_value(&self) -> &T {
        self
    }
}
