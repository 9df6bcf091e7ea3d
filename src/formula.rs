//! Custom KPI formulas (`[kpi.<id>] formula = "clv / cac"`): arithmetic over
//! other KPI ids with + − × ÷ and parentheses. Any null operand, and a
//! division by zero, gives null.

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Number(f64),
    Kpi(String),
    Neg(Box<Expr>),
    Binary(Box<Expr>, Op, Box<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    Add,
    Sub,
    Mul,
    Div,
}

/// The formula as a person writes it, with × and ÷ and only the parentheses
/// it needs: `(won_revenue − cac) ÷ 2`.
impl std::fmt::Display for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        fn level(e: &Expr) -> u8 {
            match e {
                Expr::Binary(_, Op::Add | Op::Sub, _) => 1,
                Expr::Binary(_, Op::Mul | Op::Div, _) => 2,
                _ => 3,
            }
        }
        fn side(f: &mut std::fmt::Formatter<'_>, e: &Expr, parens: bool) -> std::fmt::Result {
            if parens {
                write!(f, "({e})")
            } else {
                write!(f, "{e}")
            }
        }
        match self {
            Expr::Number(n) => write!(f, "{n}"),
            Expr::Kpi(id) => write!(f, "{id}"),
            Expr::Neg(e) => {
                write!(f, "\u{2212}")?;
                side(f, e, level(e) < 3)
            }
            Expr::Binary(a, op, b) => {
                let me = level(self);
                side(f, a, level(a) < me)?;
                let sym = match op {
                    Op::Add => "+",
                    Op::Sub => "\u{2212}",
                    Op::Mul => "×",
                    Op::Div => "÷",
                };
                write!(f, " {sym} ")?;
                // a − (b + c) and a ÷ (b × c) keep their parentheses.
                side(
                    f,
                    b,
                    level(b) < me || (level(b) == me && matches!(op, Op::Sub | Op::Div)),
                )
            }
        }
    }
}

impl Expr {
    pub fn parse(text: &str) -> Result<Expr, String> {
        let tokens = tokenize(text)?;
        let mut p = Parser { tokens, pos: 0 };
        let e = p.sum()?;
        if p.pos != p.tokens.len() {
            return Err(format!(
                "unexpected '{}' in formula '{text}'",
                p.tokens[p.pos].text()
            ));
        }
        Ok(e)
    }

    /// The KPI ids the formula reads.
    pub fn variables(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out.sort();
        out.dedup();
        out
    }

    fn collect(&self, out: &mut Vec<String>) {
        match self {
            Expr::Number(_) => {}
            Expr::Kpi(id) => out.push(id.clone()),
            Expr::Neg(e) => e.collect(out),
            Expr::Binary(a, _, b) => {
                a.collect(out);
                b.collect(out);
            }
        }
    }

    /// Evaluates with `lookup` giving each KPI's value (None = null).
    pub fn eval(&self, lookup: &dyn Fn(&str) -> Option<f64>) -> Option<f64> {
        let v = match self {
            Expr::Number(n) => *n,
            Expr::Kpi(id) => lookup(id)?,
            Expr::Neg(e) => -e.eval(lookup)?,
            Expr::Binary(a, op, b) => {
                let (a, b) = (a.eval(lookup)?, b.eval(lookup)?);
                match op {
                    Op::Add => a + b,
                    Op::Sub => a - b,
                    Op::Mul => a * b,
                    Op::Div if b == 0.0 => return None,
                    Op::Div => a / b,
                }
            }
        };
        v.is_finite().then_some(v)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Num(f64),
    Ident(String),
    Op(char),
    Open,
    Close,
}

impl Token {
    fn text(&self) -> String {
        match self {
            Token::Num(n) => n.to_string(),
            Token::Ident(s) => s.clone(),
            Token::Op(c) => c.to_string(),
            Token::Open => "(".into(),
            Token::Close => ")".into(),
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' => i += 1,
            '+' | '-' | '*' | '/' => {
                out.push(Token::Op(c));
                i += 1
            }
            '×' => {
                out.push(Token::Op('*'));
                i += 1
            }
            '÷' => {
                out.push(Token::Op('/'));
                i += 1
            }
            '−' => {
                out.push(Token::Op('-'));
                i += 1
            }
            '(' => {
                out.push(Token::Open);
                i += 1
            }
            ')' => {
                out.push(Token::Close);
                i += 1
            }
            c if c.is_ascii_digit() || c == '.' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                let s: String = chars[start..i].iter().collect();
                out.push(Token::Num(
                    s.parse().map_err(|_| format!("'{s}' is not a number"))?,
                ));
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '.')
                {
                    i += 1;
                }
                out.push(Token::Ident(chars[start..i].iter().collect()));
            }
            other => {
                return Err(format!(
                    "unexpected character '{other}' in formula '{text}'"
                ))
            }
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn sum(&mut self) -> Result<Expr, String> {
        let mut left = self.product()?;
        while let Some(Token::Op(c @ ('+' | '-'))) = self.peek().cloned() {
            self.pos += 1;
            let right = self.product()?;
            let op = if c == '+' { Op::Add } else { Op::Sub };
            left = Expr::Binary(Box::new(left), op, Box::new(right));
        }
        Ok(left)
    }

    fn product(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while let Some(Token::Op(c @ ('*' | '/'))) = self.peek().cloned() {
            self.pos += 1;
            let right = self.unary()?;
            let op = if c == '*' { Op::Mul } else { Op::Div };
            left = Expr::Binary(Box::new(left), op, Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if let Some(Token::Op('-')) = self.peek() {
            self.pos += 1;
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Expr, String> {
        let token = self.peek().cloned().ok_or("the formula ends too early")?;
        self.pos += 1;
        match token {
            Token::Num(n) => Ok(Expr::Number(n)),
            Token::Ident(id) => Ok(Expr::Kpi(id)),
            Token::Open => {
                let e = self.sum()?;
                match self.peek() {
                    Some(Token::Close) => {
                        self.pos += 1;
                        Ok(e)
                    }
                    _ => Err("missing ')' in the formula".into()),
                }
            }
            other => Err(format!("unexpected '{}' in the formula", other.text())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(text: &str) -> Option<f64> {
        let lookup = |id: &str| match id {
            "clv" => Some(900.0),
            "cac" => Some(300.0),
            "zero" => Some(0.0),
            "activities.call" => Some(10.0),
            _ => None,
        };
        Expr::parse(text).unwrap().eval(&lookup)
    }

    #[test]
    fn arithmetic_with_precedence() {
        assert_eq!(eval("clv / cac"), Some(3.0));
        assert_eq!(eval("1 + 2 * 3"), Some(7.0));
        assert_eq!(eval("(1 + 2) * 3"), Some(9.0));
        assert_eq!(eval("-cac + 1000"), Some(700.0));
        assert_eq!(eval("clv × 2 ÷ 3"), Some(600.0));
        assert_eq!(eval("activities.call / 2"), Some(5.0));
    }

    #[test]
    fn nulls_and_zero_division() {
        assert_eq!(eval("clv / missing"), None);
        assert_eq!(eval("clv / zero"), None);
    }

    #[test]
    fn syntax_errors() {
        for bad in ["clv /", "(clv", "clv $ cac", "clv cac", ""] {
            assert!(Expr::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Expr::parse("clv / cac + clv").unwrap().variables(),
            ["cac", "clv"]
        );
    }

    #[test]
    fn formulas_print_as_written() {
        for (text, shown) in [
            ("clv / cac", "clv ÷ cac"),
            ("(won_revenue - cac) / 2", "(won_revenue − cac) ÷ 2"),
            ("a - (b + c)", "a − (b + c)"),
            ("a / (b * c)", "a ÷ (b × c)"),
            ("a * b + c", "a × b + c"),
            ("-(a + b)", "−(a + b)"),
        ] {
            assert_eq!(Expr::parse(text).unwrap().to_string(), shown, "{text}");
        }
    }
}
