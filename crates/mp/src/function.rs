//! Functions by name: a registry built at link time with `inventory`, typed handles, and the
//! bytes that cross the process boundary (bincode 2 over serde).

use crate::error::{Error, TaskError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::marker::PhantomData;

/// The type-erased entry point of a registered function: argument bytes in, result bytes out.
pub type RawFn = fn(&[u8]) -> Result<Vec<u8>, String>;

/// One registered function. Created by [`crate::task!`] and [`crate::register!`].
pub struct Entry {
    name: &'static str,
    call: RawFn,
    /// The same function over a chunk of arguments (see [`__invoke_chunk`]), if registered.
    chunk: Option<RawFn>,
}

impl Entry {
    /// An entry named `name` calling `call`.
    pub const fn new(name: &'static str, call: RawFn) -> Self {
        Entry {
            name,
            call,
            chunk: None,
        }
    }

    /// An entry named `name` calling `call` for one argument and `chunk` for a chunk of them
    /// (a [`crate::Pool`] sends `map` arguments in chunks, as Python's `chunksize` does).
    pub const fn with_chunk(name: &'static str, call: RawFn, chunk: RawFn) -> Self {
        Entry {
            name,
            call,
            chunk: Some(chunk),
        }
    }
}

inventory::collect!(Entry);

/// Finds a registered function by name.
pub(crate) fn lookup(name: &str) -> Option<RawFn> {
    inventory::iter::<Entry>
        .into_iter()
        .find(|e| e.name == name)
        .map(|e| e.call)
}

/// Finds the chunk entry point of a registered function by name.
pub(crate) fn lookup_chunk(name: &str) -> Option<RawFn> {
    inventory::iter::<Entry>
        .into_iter()
        .find(|e| e.name == name)
        .and_then(|e| e.chunk)
}

/// The names of all registered functions in this binary.
pub fn registered() -> Vec<&'static str> {
    let mut names: Vec<_> = inventory::iter::<Entry>
        .into_iter()
        .map(|e| e.name)
        .collect();
    names.sort_unstable();
    names
}

/// A function that can run in a worker process: a name in the registry plus its argument and
/// result types, so calls are type-checked in the parent.
///
/// Implemented by the handles [`crate::task!`] defines and by [`Func`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a function a worker process can run",
    label = "a closure or plain function cannot cross to a worker process",
    note = "define it at module level with `supervisor_mp::task!(fn name(x: T) -> R {{ ... }})` \
            and pass `name`, or register an existing function with \
            `supervisor_mp::register!(NAME = path::to::f: fn(T) -> R)` and pass `NAME`"
)]
pub trait Function {
    /// The argument (use a tuple for several).
    type Arg: Serialize + DeserializeOwned + Send + 'static;
    /// The result.
    type Output: Serialize + DeserializeOwned + Send + 'static;
    /// The name it is registered under.
    fn name(&self) -> &'static str;
}

impl<F: Function + ?Sized> Function for &F {
    type Arg = F::Arg;
    type Output = F::Output;
    fn name(&self) -> &'static str {
        (**self).name()
    }
}

/// A typed handle to a function registered by name, e.g. by [`crate::register!`] or by
/// another module. An unregistered name fails at the call site with
/// [`Error::Unregistered`].
pub struct Func<A, R> {
    name: &'static str,
    types: PhantomData<fn(A) -> R>,
}

impl<A, R> Func<A, R> {
    /// A handle to the function registered as `name` (`module::path::function`).
    pub const fn named(name: &'static str) -> Self {
        Func {
            name,
            types: PhantomData,
        }
    }
}

impl<A, R> Clone for Func<A, R> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<A, R> Copy for Func<A, R> {}

impl<A, R> Function for Func<A, R>
where
    A: Serialize + DeserializeOwned + Send + 'static,
    R: Serialize + DeserializeOwned + Send + 'static,
{
    type Arg = A;
    type Output = R;
    fn name(&self) -> &'static str {
        self.name
    }
}

pub(crate) fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, String> {
    bincode::serde::encode_to_vec(value, bincode::config::standard()).map_err(|e| e.to_string())
}

pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    bincode::serde::decode_from_slice(bytes, bincode::config::standard())
        .map(|(value, _)| value)
        .map_err(|e| e.to_string())
}

/// Decodes a result that came back from a worker.
pub(crate) fn decode_result<R: DeserializeOwned>(
    result: &Result<Vec<u8>, TaskError>,
) -> Result<R, TaskError> {
    match result {
        Ok(bytes) => {
            decode(bytes).map_err(|e| TaskError::Remote(format!("cannot decode the result: {e}")))
        }
        Err(e) => Err(e.clone()),
    }
}

/// Checks that a call may start: `init()` ran and the function is registered.
pub(crate) fn check_callable(name: &str) -> Result<(), Error> {
    if !crate::initialized() {
        return Err(Error::NotInitialized);
    }
    if lookup(name).is_none() {
        return Err(Error::Unregistered(name.to_string()));
    }
    Ok(())
}

/// Builds the wire form of a call.
pub(crate) fn call_of<F: Function>(f: &F, arg: &F::Arg) -> Result<crate::job::Call, Error> {
    check_callable(f.name())?;
    Ok(crate::job::Call {
        function: f.name().to_string(),
        arg: encode(arg).map_err(Error::Encode)?,
    })
}

/// Used by the registration macros: decodes the argument, calls `f`, encodes the result.
#[doc(hidden)]
pub fn __invoke<A: DeserializeOwned, R: Serialize>(
    bytes: &[u8],
    f: fn(A) -> R,
) -> Result<Vec<u8>, String> {
    let arg: A = decode(bytes).map_err(|e| format!("cannot decode the argument: {e}"))?;
    let result = f(arg);
    encode(&result).map_err(|e| format!("cannot encode the result: {e}"))
}

/// Used by the registration macros: decodes a chunk of arguments (a bincode sequence), calls
/// `f` on each, catching a panic per argument, and encodes the sequence of results
/// (`Result<R, String>`, the error being the panic's message).
#[doc(hidden)]
pub fn __invoke_chunk<A: DeserializeOwned, R: Serialize>(
    bytes: &[u8],
    f: fn(A) -> R,
) -> Result<Vec<u8>, String> {
    let args: Vec<A> = decode(bytes).map_err(|e| format!("cannot decode the argument: {e}"))?;
    let results: Vec<Result<R, String>> = args
        .into_iter()
        .map(|arg| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(arg)))
                .map_err(|payload| panic_message(payload.as_ref()))
        })
        .collect();
    encode(&results).map_err(|e| format!("cannot encode the result: {e}"))
}

/// A panic's message.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic".to_string())
}

/// Defines a function that can run in worker processes, and registers it.
///
/// ```ignore
/// supervisor_mp::task!(pub fn square(x: u64) -> u64 { x * x });
/// let squares = pool.map(square, 0..10u64)?;
/// assert_eq!(square::call(3), 9); // still callable in-process
/// ```
///
/// It defines a unit struct `square` (the typed handle, a [`Function`]) with an associated
/// `square::call` holding the body, registered as `module_path::square`.
///
/// Any number of arguments, with or without a return type:
///
/// | written | [`Function::Arg`] | [`Function::Output`] | called as |
/// |---|---|---|---|
/// | `fn tick() { .. }` | `()` | `()` | `pool.apply(tick, ())` |
/// | `fn log(x: T) { .. }` | `T` | `()` | `pool.map(log, xs)` |
/// | `fn square(x: u64) -> u64 { .. }` | `u64` | `u64` | `pool.map(square, xs)` |
/// | `fn add(a: u64, b: u64) -> u64 { .. }` | `(u64, u64)` | `u64` | `pool.starmap(add, [(1, 2)])` |
///
/// ```
/// supervisor_mp::task!(fn tick() {});
/// supervisor_mp::task!(fn log(line: String) { eprintln!("{line}") });
/// supervisor_mp::task!(pub fn add(a: u64, b: u64) -> u64 { a + b });
///
/// fn arg_of<F: supervisor_mp::Function>(_: F) -> std::any::TypeId
/// where
///     F::Arg: 'static,
/// {
///     std::any::TypeId::of::<F::Arg>()
/// }
///
/// fn main() {
///     assert_eq!(add::call(2, 3), 5);
///     assert_eq!(arg_of(add), std::any::TypeId::of::<(u64, u64)>());
///     assert_eq!(arg_of(tick), std::any::TypeId::of::<()>());
///     assert_eq!(arg_of(log), std::any::TypeId::of::<String>());
/// }
/// ```
///
/// Anything else (a closure, a generic function, a pattern or `mut` or `self` as a
/// parameter) is a compile error that says what to write instead:
///
/// ```compile_fail
/// // error: task! takes a function item, not a closure: ...
/// supervisor_mp::task!(|x: u64| x * 2);
/// # fn main() {}
/// ```
///
/// ```compile_fail
/// // error: task! functions cannot be generic: ...
/// supervisor_mp::task!(fn twice<T: Clone>(x: T) -> (T, T) { (x.clone(), x) });
/// # fn main() {}
/// ```
///
/// ```compile_fail
/// // error: task! expects a function item with named, typed parameters: ...
/// supervisor_mp::task!(fn add((a, b): (u64, u64)) -> u64 { a + b });
/// # fn main() {}
/// ```
///
/// ```compile_fail
/// // error: task! expects a function item with named, typed parameters: ...
/// supervisor_mp::task!(fn count(mut n: u64) -> u64 { n += 1; n });
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! task {
    (
        $(#[$meta:meta])*
        $vis:vis fn $name:ident ( $($arg:ident : $A:ty),* $(,)? ) $(-> $R:ty)? $body:block
    ) => {
        $(#[$meta])*
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug)]
        $vis struct $name;

        impl $name {
            /// Runs the function in this process.
            #[allow(dead_code, clippy::unused_unit)]
            $vis fn call($($arg: $A),*) -> $crate::__task_ret!($($R)?) $body
        }

        impl $crate::Function for $name {
            type Arg = $crate::__task_arg!($($A),*);
            type Output = $crate::__task_ret!($($R)?);
            fn name(&self) -> &'static str {
                concat!(module_path!(), "::", stringify!($name))
            }
        }

        const _: () = {
            type __Arg = $crate::__task_arg!($($A),*);
            type __Output = $crate::__task_ret!($($R)?);
            #[allow(clippy::unused_unit, unused_variables)]
            fn __supervisor_mp_adapt(arg: __Arg) -> __Output {
                let $crate::__task_pat!($($arg),*) = arg;
                $name::call($($arg),*)
            }
            fn __supervisor_mp_raw(bytes: &[u8]) -> ::std::result::Result<::std::vec::Vec<u8>, ::std::string::String> {
                $crate::__invoke::<__Arg, __Output>(bytes, __supervisor_mp_adapt)
            }
            fn __supervisor_mp_chunk(bytes: &[u8]) -> ::std::result::Result<::std::vec::Vec<u8>, ::std::string::String> {
                $crate::__invoke_chunk::<__Arg, __Output>(bytes, __supervisor_mp_adapt)
            }
            $crate::inventory::submit! {
                $crate::Entry::with_chunk(
                    concat!(module_path!(), "::", stringify!($name)),
                    __supervisor_mp_raw,
                    __supervisor_mp_chunk,
                )
            }
        };
    };
    ($(move)? | $($rest:tt)*) => {
        ::core::compile_error!(
            "task! takes a function item, not a closure: a worker process finds the function \
             by name, so write `supervisor_mp::task!(fn name(x: T) -> R { ... });` at module \
             level and pass `name` to the pool"
        );
    };
    ($(#[$meta:meta])* $vis:vis fn $name:ident < $($rest:tt)*) => {
        ::core::compile_error!(
            "task! functions cannot be generic: a worker finds the function by name, so write \
             one `task!` per concrete type, e.g. `supervisor_mp::task!(fn square_u64(x: u64) \
             -> u64 { ... });`"
        );
    };
    ($($rest:tt)*) => {
        ::core::compile_error!(
            "task! expects a function item with named, typed parameters: \
             `supervisor_mp::task!(fn name() { ... });`, \
             `supervisor_mp::task!(fn name(x: T) -> R { ... });` or \
             `supervisor_mp::task!(pub fn name(a: A, b: B) -> R { ... });` \
             (several parameters arrive as one tuple: `pool.starmap(name, [(a, b)])`); \
             parameters must be `name: Type` (no patterns, no `mut`, no `self`)"
        );
    };
}

/// The argument type of a [`task!`] function: `()`, the one parameter's type, or a tuple.
#[doc(hidden)]
#[macro_export]
macro_rules! __task_arg {
    () => { () };
    ($A:ty) => { $A };
    ($($A:ty),+) => { ($($A),+) };
}

/// The pattern that takes a [`task!`] function's argument apart into its parameters.
#[doc(hidden)]
#[macro_export]
macro_rules! __task_pat {
    () => { () };
    ($a:ident) => { $a };
    ($($a:ident),+) => { ($($a),+) };
}

/// The result type of a [`task!`] function: `()` without a return type.
#[doc(hidden)]
#[macro_export]
macro_rules! __task_ret {
    () => {
        ()
    };
    ($R:ty) => {
        $R
    };
}

/// Registers an existing function and defines a typed handle constant for it.
///
/// ```ignore
/// fn square(x: u64) -> u64 { x * x }
/// supervisor_mp::register!(SQUARE = square: fn(u64) -> u64);
/// let squares = pool.map(&SQUARE, 0..10u64)?;
/// ```
///
/// The function is registered as `module_path::SQUARE`.
#[macro_export]
macro_rules! register {
    ($(#[$meta:meta])* $vis:vis $handle:ident = $f:path : fn($A:ty) -> $R:ty) => {
        $(#[$meta])*
        $vis const $handle: $crate::Func<$A, $R> =
            $crate::Func::named(concat!(module_path!(), "::", stringify!($handle)));

        const _: () = {
            fn __supervisor_mp_raw(bytes: &[u8]) -> ::std::result::Result<::std::vec::Vec<u8>, ::std::string::String> {
                $crate::__invoke::<$A, $R>(bytes, $f)
            }
            fn __supervisor_mp_chunk(bytes: &[u8]) -> ::std::result::Result<::std::vec::Vec<u8>, ::std::string::String> {
                $crate::__invoke_chunk::<$A, $R>(bytes, $f)
            }
            $crate::inventory::submit! {
                $crate::Entry::with_chunk(
                    concat!(module_path!(), "::", stringify!($handle)),
                    __supervisor_mp_raw,
                    __supervisor_mp_chunk,
                )
            }
        };
    };
}
