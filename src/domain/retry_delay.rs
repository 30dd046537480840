//! `Upstash-Retry-Delay` expressions (spec §2): arithmetic over `retried` (0 before the first retry) with
//! `pow, sqrt, abs, exp, floor, ceil, round, min, max`, giving the delay in milliseconds. Parsed once at the
//! edge into a small tree; evaluation is bounded (length, depth) and never panics or overflows: a result that
//! is not a finite number falls back to the default backoff, and results are clamped to one day.

const MAX_LEN: usize = 512;
const MAX_DEPTH: usize = 32;
const ONE_DAY_MS: f64 = 86_400_000.0;

#[derive(Debug, Clone, PartialEq)]
pub struct RetryDelay {
    source: String,
    expr: Expr,
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Number(f64),
    Retried,
    Neg(Box<Expr>),
    Binary(Op, Box<Expr>, Box<Expr>),
    Call(Func, Vec<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Func {
    Pow,
    Sqrt,
    Abs,
    Exp,
    Floor,
    Ceil,
    Round,
    Min,
    Max,
}

impl Func {
    fn named(name: &str) -> Option<(Func, usize)> {
        Some(match name {
            "pow" => (Func::Pow, 2),
            "sqrt" => (Func::Sqrt, 1),
            "abs" => (Func::Abs, 1),
            "exp" => (Func::Exp, 1),
            "floor" => (Func::Floor, 1),
            "ceil" => (Func::Ceil, 1),
            "round" => (Func::Round, 1),
            "min" => (Func::Min, 2),
            "max" => (Func::Max, 2),
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Upstash-Retry-Delay header {expression:?}: {reason}")]
pub struct InvalidRetryDelay {
    expression: String,
    reason: String,
}

impl InvalidRetryDelay {
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl RetryDelay {
    pub fn parse(source: &str) -> Result<RetryDelay, InvalidRetryDelay> {
        let fail = |reason: &str| InvalidRetryDelay {
            expression: source.to_string(),
            reason: reason.to_string(),
        };
        if source.len() > MAX_LEN {
            return Err(fail("the expression is longer than 512 characters"));
        }
        let mut parser = Parser {
            chars: source.chars().collect(),
            pos: 0,
            depth: 0,
        };
        let expr = parser.expr().map_err(|reason| fail(&reason))?;
        parser.skip_spaces();
        if parser.pos < parser.chars.len() {
            return Err(fail(&format!(
                "unexpected {:?} at position {}",
                parser.chars[parser.pos],
                parser.pos + 1
            )));
        }
        Ok(RetryDelay {
            source: source.trim().to_string(),
            expr,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The delay before retry number `retried + 1`, in ms; `None` when the result is not a finite number.
    pub fn delay_ms(&self, retried: i32) -> Option<i64> {
        let value = eval(&self.expr, f64::from(retried));
        value.is_finite().then(|| value.clamp(0.0, ONE_DAY_MS) as i64)
    }
}

fn eval(expr: &Expr, retried: f64) -> f64 {
    match expr {
        Expr::Number(n) => *n,
        Expr::Retried => retried,
        Expr::Neg(e) => -eval(e, retried),
        Expr::Binary(op, a, b) => {
            let (a, b) = (eval(a, retried), eval(b, retried));
            match op {
                Op::Add => a + b,
                Op::Sub => a - b,
                Op::Mul => a * b,
                Op::Div => a / b,
                Op::Rem => a % b,
            }
        }
        Expr::Call(func, args) => {
            let arg = |i: usize| eval(&args[i], retried);
            match func {
                Func::Pow => arg(0).powf(arg(1)),
                Func::Sqrt => arg(0).sqrt(),
                Func::Abs => arg(0).abs(),
                Func::Exp => arg(0).exp(),
                Func::Floor => arg(0).floor(),
                Func::Ceil => arg(0).ceil(),
                Func::Round => arg(0).round(),
                Func::Min => arg(0).min(arg(1)),
                Func::Max => arg(0).max(arg(1)),
            }
        }
    }
}

/// Recursive descent: expr = term (('+'|'-') term)*; term = unary (('*'|'/'|'%') unary)*;
/// unary = '-' unary | atom; atom = number | 'retried' | name '(' args ')' | '(' expr ')'.
struct Parser {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn skip_spaces(&mut self) {
        while self.chars.get(self.pos).is_some_and(|c| c.is_whitespace()) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_spaces();
        self.chars.get(self.pos).copied()
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected {c:?} at position {}", self.pos + 1))
        }
    }

    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, String>) -> Result<T, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err("the expression nests too deeply".into());
        }
        let result = f(self);
        self.depth -= 1;
        result
    }

    fn expr(&mut self) -> Result<Expr, String> {
        self.nested(|p| {
            p.binary(Parser::term, |c| match c {
                '+' => Some(Op::Add),
                '-' => Some(Op::Sub),
                _ => None,
            })
        })
    }

    fn term(&mut self) -> Result<Expr, String> {
        self.binary(Parser::unary, |c| match c {
            '*' => Some(Op::Mul),
            '/' => Some(Op::Div),
            '%' => Some(Op::Rem),
            _ => None,
        })
    }

    /// One precedence level: `operand (op operand)*`, left-associative.
    fn binary(
        &mut self,
        operand: fn(&mut Self) -> Result<Expr, String>,
        op: fn(char) -> Option<Op>,
    ) -> Result<Expr, String> {
        let mut left = operand(self)?;
        while let Some(op) = self.peek().and_then(op) {
            self.pos += 1;
            left = Expr::Binary(op, Box::new(left), Box::new(operand(self)?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.peek() == Some('-') {
            self.pos += 1;
            return self.nested(|p| Ok(Expr::Neg(Box::new(p.unary()?))));
        }
        self.atom()
    }

    /// The characters from here on that `accept`, consumed.
    fn take_while(&mut self, accept: impl Fn(char) -> bool) -> String {
        let start = self.pos;
        while self.chars.get(self.pos).is_some_and(|c| accept(*c)) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    fn atom(&mut self) -> Result<Expr, String> {
        match self.peek() {
            Some('(') => {
                self.pos += 1;
                let inner = self.expr()?;
                self.expect(')')?;
                Ok(inner)
            }
            Some(c) if c.is_ascii_digit() || c == '.' => {
                let text = self.take_while(|c| c.is_ascii_digit() || c == '.');
                text.parse()
                    .map(Expr::Number)
                    .map_err(|_| format!("{text:?} is not a number"))
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let name = self.take_while(|c| c.is_ascii_alphanumeric() || c == '_');
                if name == "retried" {
                    return Ok(Expr::Retried);
                }
                let (func, arity) = Func::named(&name).ok_or_else(|| {
                    format!("unknown name {name:?}: use retried and pow, sqrt, abs, exp, floor, ceil, round, min, max")
                })?;
                self.expect('(')?;
                let mut args = vec![self.expr()?];
                while self.peek() == Some(',') {
                    self.pos += 1;
                    args.push(self.expr()?);
                }
                self.expect(')')?;
                if args.len() != arity {
                    return Err(format!("{name} takes {arity} argument(s), got {}", args.len()));
                }
                Ok(Expr::Call(func, args))
            }
            Some(c) => Err(format!("unexpected {c:?} at position {}", self.pos + 1)),
            None => Err("the expression ends too early".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delays(expr: &str) -> Vec<Option<i64>> {
        let delay = RetryDelay::parse(expr).unwrap();
        (0..4).map(|n| delay.delay_ms(n)).collect()
    }

    #[test]
    fn evaluates_the_documented_examples() {
        for (expr, retried_0_to_3) in [
            ("1000", [1000; 4]),
            ("1000 * (1 + retried)", [1000, 2000, 3000, 4000]),
            ("pow(2, retried) * 1000", [1000, 2000, 4000, 8000]),
            ("max(500, min(2000, retried * 1000))", [500, 1000, 2000, 2000]),
            (
                "floor(sqrt(retried)) * 10 + abs(-5) + ceil(0.2) + round(1.5) + exp(0) - 10 % 3",
                [8, 18, 18, 18],
            ),
            ("-(-3)", [3; 4]),
        ] {
            assert_eq!(delays(expr), retried_0_to_3.map(Some), "{expr}");
        }
    }

    #[test]
    fn results_are_bounded() {
        assert_eq!(delays("pow(10, 100)"), [Some(86_400_000); 4], "capped at a day");
        assert_eq!(delays("0 - 5"), [Some(0); 4], "never negative");
        assert_eq!(delays("1 / 0")[0], None, "infinite: the default backoff applies");
        assert_eq!(delays("sqrt(-1)")[0], None);
        assert_eq!(delays("exp(100000)")[0], None);
    }

    #[test]
    fn bad_expressions_are_refused_with_a_reason() {
        for bad in [
            "",
            "1 +",
            "retried retried",
            "foo(1)",
            "pow(2)",
            "min(1,2,3)",
            "(1",
            "1)",
            "1..2",
            "a",
            "2 ** 3",
            "$",
        ] {
            assert!(RetryDelay::parse(bad).is_err(), "{bad:?} should be refused");
        }
        let deep = format!("{}1{}", "(".repeat(100), ")".repeat(100));
        assert!(RetryDelay::parse(&deep).unwrap_err().to_string().contains("deeply"));
        let minus = format!("{}1", "-".repeat(100));
        assert!(RetryDelay::parse(&minus).is_err());
        assert!(RetryDelay::parse(&"1+".repeat(300))
            .unwrap_err()
            .to_string()
            .contains("512"));
    }
}
