//! `Value<T>` and `Array<T>`: plain data in shared memory with the lock that guards it
//! (Python's `multiprocessing.Value` and `multiprocessing.Array`).

use super::{AcquireError, BODY, Kind};
use crate::sys::{ALIGN, LockFail, MutexKind, Plain, PlainGuard, Segment};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::io;
use std::marker::PhantomData;
use std::ops::{Bound, Deref, DerefMut, RangeBounds};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

const MUTEX: usize = BODY;
/// u64: size of one element (checked when a handle is decoded).
const ELEM_SIZE: usize = BODY + ALIGN;
/// u64: a hash of the element's type name (the same binary on both sides).
const ELEM_TYPE: usize = ELEM_SIZE + 8;
/// u64: the number of elements.
const LEN: usize = ELEM_TYPE + 8;
const DATA: usize = BODY + 2 * ALIGN;

fn type_hash<T>() -> u64 {
    // FNV-1a: stable within a build, which is all that is needed (parent and workers are one
    // binary).
    std::any::type_name::<T>()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
}

/// The segment of `len` elements of `T`, zero-filled (a valid `T`: see [`Plain`]).
fn create<T: Plain>(len: usize) -> io::Result<Arc<Segment>> {
    assert!(
        align_of::<T>() <= ALIGN,
        "Value/Array: alignment above 64 bytes"
    );
    let bytes = size_of::<T>()
        .checked_mul(len)
        .and_then(|b| b.checked_add(DATA - BODY))
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "array too large"))?;
    let seg = super::create(Kind::Value, bytes)?;
    seg.init_mutex(MUTEX, MutexKind::ErrorCheck)?;
    seg.u64_at(ELEM_SIZE).store(size_of::<T>() as u64, Relaxed);
    seg.u64_at(ELEM_TYPE).store(type_hash::<T>(), Relaxed);
    seg.u64_at(LEN).store(len as u64, Relaxed);
    Ok(seg)
}

fn decode<'de, T: Plain, D: Deserializer<'de>>(d: D) -> Result<(Arc<Segment>, usize), D::Error> {
    let seg = super::deserialize(d, Kind::Value, DATA - BODY)?;
    let len = seg.u64_at(LEN).load(Relaxed) as usize;
    let fits = len
        .checked_mul(size_of::<T>())
        .and_then(|b| b.checked_add(DATA))
        .is_some_and(|end| end <= seg.len());
    if seg.u64_at(ELEM_SIZE).load(Relaxed) != size_of::<T>() as u64
        || seg.u64_at(ELEM_TYPE).load(Relaxed) != type_hash::<T>()
        || !fits
    {
        return Err(serde::de::Error::custom(format!(
            "the shared value is not of type {}",
            std::any::type_name::<T>()
        )));
    }
    Ok((seg, len))
}

/// Locks the elements; `true` with the guard if a previous holder died holding the lock.
/// `None`: not in time.
fn lock<T: Plain>(
    seg: &Arc<Segment>,
    len: usize,
    deadline: Option<Instant>,
) -> Option<(PlainGuard<T>, bool)> {
    match PlainGuard::lock(seg, MUTEX, DATA, len, deadline) {
        Ok(locked) => Some(locked),
        Err(LockFail::Timeout) => None,
        Err(LockFail::Deadlock) => panic!(
            "Value/Array: this thread already holds its lock (a guard from lock() is alive): \
             read and write through that guard"
        ),
        Err(LockFail::Os(e)) => panic!("Value/Array: the system refused a robust mutex: {e}"),
    }
}

/// Locks for a plain get or set: a dead previous holder is not an error there (the value is
/// plain data, whatever it holds); use `lock()` to be told.
fn lock_any<T: Plain>(seg: &Arc<Segment>, len: usize) -> PlainGuard<T> {
    lock(seg, len, None).expect("no deadline").0
}

/// The public shape of a lock attempt, for a guard type `G` built from the `PlainGuard`.
fn wrap<T: Plain, G: std::fmt::Debug>(
    locked: Option<(PlainGuard<T>, bool)>,
    guard: impl FnOnce(PlainGuard<T>) -> G,
) -> Result<G, AcquireError<G>> {
    match locked {
        Some((g, false)) => Ok(guard(g)),
        Some((g, true)) => Err(AcquireError::Abandoned(guard(g))),
        None => Err(AcquireError::Timeout),
    }
}

/// Python's `multiprocessing.Value(typecode, value)`: one `T` in shared memory with its own
/// lock. [`get`](Value::get) and [`set`](Value::set) take the lock; for a read-modify-write,
/// hold it: `*value.lock()? += 1` (Python's `with v.get_lock(): v.value += 1`).
///
/// The lock is a robust mutex: if a holder dies, the next [`lock`](Value::lock) gets
/// [`AcquireError::Abandoned`] with the guard (the value may be half-updated), while `get` and
/// `set` carry on. Pass the handle (or a clone) to a worker; `T` must be the same type there.
/// Calling `get`/`set` in a thread that holds a guard of the same value panics (the lock is not
/// reentrant): use the guard.
pub struct Value<T: Plain> {
    seg: Arc<Segment>,
    _t: PhantomData<T>,
}

/// The locked value of a [`Value`]: dereferences to `T`; releases the lock when dropped (on the
/// thread that locked it).
pub struct ValueGuard<T: Plain> {
    inner: PlainGuard<T>,
}

impl<T: Plain> Value<T> {
    /// A shared value holding `value`.
    pub fn new(value: T) -> io::Result<Self> {
        let v = Value {
            seg: create::<T>(1)?,
            _t: PhantomData,
        };
        v.set(value);
        Ok(v)
    }

    /// Its value now (Python's `v.value`).
    pub fn get(&self) -> T {
        lock_any::<T>(&self.seg, 1).as_slice()[0]
    }

    /// Replaces its value (Python's `v.value = x`).
    pub fn set(&self, value: T) {
        lock_any::<T>(&self.seg, 1).as_mut_slice()[0] = value;
    }

    /// Takes the lock and gives the value (Python's `with v.get_lock():`).
    pub fn lock(&self) -> Result<ValueGuard<T>, AcquireError<ValueGuard<T>>> {
        self.lock_with(None)
    }

    /// Like [`lock`](Value::lock), waiting at most `timeout`.
    pub fn lock_timeout(
        &self,
        timeout: Duration,
    ) -> Result<ValueGuard<T>, AcquireError<ValueGuard<T>>> {
        self.lock_with(super::deadline(Some(timeout)))
    }

    fn lock_with(
        &self,
        deadline: Option<Instant>,
    ) -> Result<ValueGuard<T>, AcquireError<ValueGuard<T>>> {
        wrap(lock::<T>(&self.seg, 1, deadline), |inner| ValueGuard {
            inner,
        })
    }
}

impl<T: Plain> Deref for ValueGuard<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner.as_slice()[0]
    }
}

impl<T: Plain> DerefMut for ValueGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner.as_mut_slice()[0]
    }
}

/// Python's `multiprocessing.Array(typecode, n)`: a fixed number of `T` in shared memory with
/// one lock. Element and slice reads and writes take the lock; [`lock`](Array::lock) holds it
/// and gives the elements as a slice (`guard[i] += 1`, `guard.iter()`, `&guard[2..5]`).
/// Robust like [`Value`] (a dead holder: [`AcquireError::Abandoned`] from `lock`).
pub struct Array<T: Plain> {
    seg: Arc<Segment>,
    len: usize,
    _t: PhantomData<T>,
}

/// The locked elements of an [`Array`]: dereferences to `[T]`; releases the lock when dropped
/// (on the thread that locked it).
pub struct ArrayGuard<T: Plain> {
    inner: PlainGuard<T>,
}

impl<T: Plain> Array<T> {
    /// `len` elements, all zero (Python's `Array('d', n)`).
    pub fn new(len: usize) -> io::Result<Self> {
        Ok(Array {
            seg: create::<T>(len)?,
            len,
            _t: PhantomData,
        })
    }

    /// A copy of `values` (Python's `Array('i', [1, 2, 3])`).
    pub fn from_slice(values: &[T]) -> io::Result<Self> {
        let a = Self::new(values.len())?;
        a.write(0, values);
        Ok(a)
    }

    /// The number of elements (Python's `len(a)`).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it has no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn any_guard(&self) -> PlainGuard<T> {
        lock_any::<T>(&self.seg, self.len)
    }

    /// Element `i`, or `None` past the end (Python's `a[i]`).
    pub fn get(&self, i: usize) -> Option<T> {
        self.any_guard().as_slice().get(i).copied()
    }

    /// Sets element `i` (Python's `a[i] = x`); panics past the end, like slice indexing.
    pub fn set(&self, i: usize, value: T) {
        let len = self.len;
        let mut g = self.any_guard();
        match g.as_mut_slice().get_mut(i) {
            Some(slot) => *slot = value,
            None => panic!("Array index {i} out of range for length {len}"),
        }
    }

    /// A copy of every element (Python's `a[:]`).
    pub fn to_vec(&self) -> Vec<T> {
        self.any_guard().as_slice().to_vec()
    }

    /// A copy of the elements in `range` (Python's `a[i:j]`); panics if it is out of range.
    pub fn slice(&self, range: impl RangeBounds<usize>) -> Vec<T> {
        let (start, end) = bounds(range, self.len);
        self.any_guard().as_slice()[start..end].to_vec()
    }

    /// Copies `values` over the elements from `start` (Python's `a[i:i+len(v)] = v`), in one
    /// locked step; panics if they do not fit.
    pub fn write(&self, start: usize, values: &[T]) {
        let mut g = self.any_guard();
        let end = start
            .checked_add(values.len())
            .filter(|&e| e <= self.len)
            .unwrap_or_else(|| panic!("Array write past its length {}", self.len));
        g.as_mut_slice()[start..end].copy_from_slice(values);
    }

    /// The elements, copied in one locked step, as an iterator (Python's `for x in a`).
    pub fn iter(&self) -> std::vec::IntoIter<T> {
        self.to_vec().into_iter()
    }

    /// Takes the lock and gives the elements (Python's `with a.get_lock():`).
    pub fn lock(&self) -> Result<ArrayGuard<T>, AcquireError<ArrayGuard<T>>> {
        self.lock_with(None)
    }

    /// Like [`lock`](Array::lock), waiting at most `timeout`.
    pub fn lock_timeout(
        &self,
        timeout: Duration,
    ) -> Result<ArrayGuard<T>, AcquireError<ArrayGuard<T>>> {
        self.lock_with(super::deadline(Some(timeout)))
    }

    fn lock_with(
        &self,
        deadline: Option<Instant>,
    ) -> Result<ArrayGuard<T>, AcquireError<ArrayGuard<T>>> {
        wrap(lock::<T>(&self.seg, self.len, deadline), |inner| {
            ArrayGuard { inner }
        })
    }
}

fn bounds(range: impl RangeBounds<usize>, len: usize) -> (usize, usize) {
    let start = match range.start_bound() {
        Bound::Included(&s) => s,
        Bound::Excluded(&s) => s + 1,
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(&e) => e + 1,
        Bound::Excluded(&e) => e,
        Bound::Unbounded => len,
    };
    assert!(
        start <= end && end <= len,
        "Array range {start}..{end} out of range for length {len}"
    );
    (start, end)
}

impl<T: Plain> Deref for ArrayGuard<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        self.inner.as_slice()
    }
}

impl<T: Plain> DerefMut for ArrayGuard<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        self.inner.as_mut_slice()
    }
}

impl<T: Plain> IntoIterator for &Array<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T: Plain> Clone for Value<T> {
    fn clone(&self) -> Self {
        Value {
            seg: Arc::clone(&self.seg),
            _t: PhantomData,
        }
    }
}

impl<T: Plain> Clone for Array<T> {
    fn clone(&self) -> Self {
        Array {
            seg: Arc::clone(&self.seg),
            len: self.len,
            _t: PhantomData,
        }
    }
}

impl<T: Plain> std::fmt::Debug for Value<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Value").finish_non_exhaustive()
    }
}

impl<T: Plain> std::fmt::Debug for Array<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Array")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl<T: Plain> std::fmt::Debug for ValueGuard<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValueGuard").finish_non_exhaustive()
    }
}

impl<T: Plain> std::fmt::Debug for ArrayGuard<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArrayGuard")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl<T: Plain> Serialize for Value<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        super::serialize(&self.seg, Kind::Value, serializer)
    }
}

impl<'de, T: Plain> Deserialize<'de> for Value<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (seg, len) = decode::<T, D>(deserializer)?;
        if len != 1 {
            return Err(serde::de::Error::custom("an Array handle is not a Value"));
        }
        Ok(Value {
            seg,
            _t: PhantomData,
        })
    }
}

impl<T: Plain> Serialize for Array<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        super::serialize(&self.seg, Kind::Value, serializer)
    }
}

impl<'de, T: Plain> Deserialize<'de> for Array<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (seg, len) = decode::<T, D>(deserializer)?;
        Ok(Array {
            seg,
            len,
            _t: PhantomData,
        })
    }
}
